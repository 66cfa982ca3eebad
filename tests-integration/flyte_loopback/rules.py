"""What a real Flyte 2 control plane refuses, per profile, each rule with the source it comes from.

Two profiles:

- ``open-source``: the flyteorg/flyte backend (read at HEAD 6fadb90d65). Its Go code checks a few
  things by hand (run name, project, list requests); its generated ``Validate()`` methods come from
  protoc-gen-validate, which ignores flyteidl2's ``buf.validate`` options, so the proto rules do not
  bind there. Run labels and annotations are copied onto a Kubernetes object, so Kubernetes' own
  rules decide whether a run can start at all.
- ``hosted``: a control plane that validates every request with protovalidate against flyteidl2's
  ``buf.validate`` options (as connectrpc.com/validate's interceptor does).

Everything here is written for this package; the texts are the backends' own, so that a client's
error handling meets what it would meet there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from connectrpc.code import Code
from connectrpc.errors import ConnectError

Profile = Literal["open-source", "hosted"]
PROFILES: tuple[Profile, ...] = ("open-source", "hosted")
# The default: a taken name answered OK with someone else's run is the hardest case for a client.
DEFAULT_PROFILE: Profile = "open-source"


def check_profile(profile: str) -> Profile:
    """`profile` itself, or ValueError naming the valid ones."""
    if profile not in PROFILES:
        raise ValueError(f"unknown control-plane profile {profile!r}: use one of {', '.join(PROFILES)}")
    return profile  # type: ignore[return-value]


# ---------------------------------------------------------------- open-source: run names

# runs/service/utils.go, runNameMaxLength ("mirrors the cap on RunIdentifier.name").
RUN_NAME_MAX_LENGTH = 30
# k8s.io/apimachinery/pkg/util/validation: dns1035LabelFmt, dns1035LabelErrMsg and RegexError's
# "(e.g. 'a',  or 'b', regex used for validation is '...')" (the double space is theirs).
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035 = re.compile(f"^{_DNS1035_FMT}$")
DNS1035_ERROR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    f"regex used for validation is '{_DNS1035_FMT}')"
)


def run_name_error(name: str) -> ConnectError | None:
    """INVALID_ARGUMENT for a client-given run name the open-source backend refuses, else None.

    runs/service/utils.go, validateRunName: at most 30 characters, then IsDNS1035Label (whose own
    63-character check the first one makes moot). Server-chosen names always pass.
    """
    if len(name) > RUN_NAME_MAX_LENGTH:
        return ConnectError(
            Code.INVALID_ARGUMENT,
            f"invalid run name {_go_quote(name)}: must be no more than {RUN_NAME_MAX_LENGTH} characters",
        )
    if not _DNS1035.match(name):
        return ConnectError(Code.INVALID_ARGUMENT, f"invalid run name {_go_quote(name)}: {DNS1035_ERROR}")
    return None


def project_not_found(project: str) -> ConnectError:
    """runs/service/utils.go and dataproxy/service/dataproxy_service.go, validateProjectExists."""
    return ConnectError(Code.NOT_FOUND, f"project {_go_quote(project)} not found")


def _go_quote(value: str) -> str:
    """Go's %q for the printable ASCII names this concerns."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- open-source: Kubernetes metadata

# k8s.io/apimachinery/pkg/util/validation: IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain;
# k8s.io/apimachinery/pkg/api/validation: ValidateAnnotations (keys lower-cased, 256 KiB in all).
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME_MAX = 63
_LABEL_VALUE_MAX = 63
_DNS1123_SUBDOMAIN_MAX = 253
_ANNOTATIONS_MAX_BYTES = 256 * 1024


def qualified_name_errors(key: str) -> list[str]:
    """Why Kubernetes refuses `key` as a label or annotation key ("[prefix/]name"), if it does."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return [f"{key!r}: prefix part must be non-empty"]
        if len(prefix) > _DNS1123_SUBDOMAIN_MAX or not _DNS1123_SUBDOMAIN.match(prefix):
            return [f"{key!r}: prefix part must be a DNS-1123 subdomain of at most 253 characters"]
    else:
        return [f"{key!r}: a qualified name must be a name with an optional DNS subdomain prefix and '/'"]
    if not name:
        return [f"{key!r}: name part must be non-empty"]
    if len(name) > _QUALIFIED_NAME_MAX:
        return [f"{key!r}: name part must be no more than 63 characters"]
    if not _QUALIFIED_NAME.match(name):
        return [
            f"{key!r}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ]
    return []


def label_value_errors(value: str) -> list[str]:
    """Why Kubernetes refuses `value` as a label value, if it does (the empty value is allowed)."""
    if len(value) > _LABEL_VALUE_MAX:
        return [f"{value!r}: must be no more than 63 characters"]
    if not _LABEL_VALUE.match(value):
        return [
            f"{value!r}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ]
    return []


def kubernetes_metadata_errors(labels: Mapping[str, str], annotations: Mapping[str, str]) -> list[str]:
    """What Kubernetes would refuse in a run's labels and annotations when it creates the TaskAction.

    actions/k8s/client.go, applyRunSpecToTaskAction copies them onto the TaskAction CR; a refused
    Create is only logged by CreateRun ("Failed to enqueue root action"), which still answers OK.
    """
    errors = []
    for key, value in labels.items():
        errors += [f"label key {e}" for e in qualified_name_errors(key)]
        errors += [f"label value of {key!r} {e}" for e in label_value_errors(value)]
    for key in annotations:
        errors += [f"annotation key {e}" for e in qualified_name_errors(key.lower())]
    size = sum(len(k) + len(v) for k, v in annotations.items())
    if size > _ANNOTATIONS_MAX_BYTES:
        errors.append(f"annotations: must have at most {_ANNOTATIONS_MAX_BYTES} bytes, {size} given")
    return errors


# ---------------------------------------------------------------- open-source: list requests

# runs/repository/impl/requests.go, defaultLimit / maxLimit.
LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 200
# runs/repository/models/action.go, ActionColumnsSet: the only fields a filter or sort may name.
ACTION_COLUMNS = frozenset(
    {
        "project",
        "domain",
        "run_name",
        "phase",
        "action_type",
        "run_source",
        "created_by_subject",
        "trigger_task_name",
        "trigger_name",
        "trigger_revision",
        "trigger_type",
        "task_project",
        "task_domain",
        "task_name",
        "task_version",
        "function_name",
        "created_at",
        "updated_at",
        "ended_at",
        "duration_ms",
    }
)


def list_request_error(
    limit: int, token: str, filter_fields: Iterable[str], sort_keys: Iterable[str]
) -> str | None:
    """The open-source backend's complaint about a ListRequest, or None (answered INVALID_ARGUMENT).

    runs/repository/impl/requests.go NewListResourceInputFromProto checks, in order: the limit, the
    sort fields (sorting.go GetSortByFieldsV2), the filter fields (filters.go ConvertProtoFilters,
    wrapped "failed to convert filters: "), then the page token (an offset).
    """
    if limit < 0:
        return f"invalid limit: {limit} (must be non-negative)"
    if limit > LIST_MAX_LIMIT:
        return f"invalid limit: {limit} (exceeds maximum of {LIST_MAX_LIMIT})"
    for key in sort_keys:
        if key not in ACTION_COLUMNS:
            return f"invalid sort field: {key}"
    for name in filter_fields:
        if name not in ACTION_COLUMNS:
            return f"failed to convert filters: invalid filter field: {name}"
    if token and not (token.isdigit()):
        return f"invalid token: {_go_quote(token)}"
    return None


# ---------------------------------------------------------------- hosted: protovalidate


class ProtoRules:
    """flyteidl2's own buf.validate rules, checked with the `protovalidate` package."""

    def __init__(self) -> None:
        try:
            import protovalidate
        except ImportError as e:  # pragma: no cover - the hatch environments install it
            raise RuntimeError(
                "the hosted profile of the loopback control plane checks requests with the "
                "`protovalidate` package (PyPI), which is not installed here: install it or use "
                "profile='open-source'"
            ) from e
        self._validator = protovalidate.Validator()

    def error(self, message: Any) -> ConnectError | None:
        """INVALID_ARGUMENT as connectrpc.com/validate's interceptor answers it, or None.

        validate.go: connect.NewError(CodeInvalidArgument, err) with err a protovalidate
        ValidationError, whose Error() (protovalidate-go) is "validation error:" then, per violation,
        "\\n - <field path>: <message> [<rule id>]"; the violations ride along as a
        buf.validate.Violations error detail.
        """
        violations = self._validator.collect_violations(message)
        if not violations:
            return None
        lines = ["validation error:"]
        for violation in violations:
            proto = violation.proto
            path = field_path(proto.field.elements)
            lines.append(f" - {path + ': ' if path else ''}{proto.message} [{proto.rule_id}]")
        return ConnectError(Code.INVALID_ARGUMENT, "\n".join(lines), details=_violations_detail(violations))


def field_path(elements: Iterable[Any]) -> str:
    """protovalidate-go's FieldPathString: "a.b[0].c[\\"key\\"]"."""
    out = []
    for element in elements:
        if out:
            out.append(".")
        out.append(element.field_name)
        for subscript in ("index", "bool_key", "int_key", "uint_key", "string_key"):
            if _has(element, subscript):
                value = getattr(element, subscript)
                if subscript == "string_key":
                    out.append(f"[{_go_quote(value)}]")
                elif subscript == "bool_key":
                    out.append(f"[{str(value).lower()}]")
                else:
                    out.append(f"[{value}]")
    return "".join(out)


def _has(message: Any, name: str) -> bool:
    """HasField on a google.protobuf message (protovalidate 1.x) or a protobuf-py one (2.x)."""
    try:
        return bool(message.has_field(name)) if hasattr(message, "has_field") else message.HasField(name)
    except (ValueError, KeyError, AttributeError, TypeError):
        return False


def _violations_detail(violations: list[Any]) -> list[Any]:
    """The buf.validate.Violations detail as a google.protobuf message (flyteidl2 ships its module)."""
    try:
        from buf.validate import validate_pb2
    except ImportError:  # pragma: no cover - flyteidl2 depends on it
        return []
    detail = validate_pb2.Violations()
    for violation in violations:
        proto = violation.proto
        raw = proto.to_binary() if hasattr(proto, "to_binary") else proto.SerializeToString()
        detail.violations.add().ParseFromString(raw)
    return [detail]


def quota_exhausted(kind: str, limit: int) -> ConnectError:
    """RESOURCE_EXHAUSTED for a quota knob (a hosted control plane's concurrency quotas)."""
    return ConnectError(
        Code.RESOURCE_EXHAUSTED, f"quota exceeded: at most {limit} unfinished {kind} at a time"
    )
