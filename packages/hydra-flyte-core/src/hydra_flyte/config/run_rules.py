"""Run names, labels, annotations and env var names: how hydra-flyte forms them, and what a real Flyte control plane accepts.

Checked before anything is submitted, so that no sweep is half-submitted and no run sits QUEUED
for ever. Each rule comes from the control planes' own source (see the shared control-plane notes):

- a client-given run name is at most 30 characters and a DNS-1035 label (the open-source backend's
  `runs/service/utils.go` validateRunName; hosted control planes validate `RunIdentifier.name`,
  1-30, with protovalidate): INVALID_ARGUMENT otherwise;
- a run's labels and annotations are copied onto a Kubernetes resource (`actions/k8s/client.go`),
  so Kubernetes' rules bind (apimachinery `IsQualifiedName` for keys, `IsValidLabelValue` for label
  values, annotation keys lower-cased and 256 KiB of annotations in all): the open-source backend
  only logs a refusal, answers OK, and the run stays QUEUED for ever;
- env vars become the pod's environment: a name Kubernetes refuses fails the run when it starts.

The names hydra-flyte gives runs are formed here too, so the checks and the names cannot drift:
`<name or sweep id>-<job>` in a sweep, `-<call>` for a job's second `flyte.run`, `-r<k>` for a new
attempt (`--resume`, `rerun --failed`). A sweep's names must leave room for that suffix
(ATTEMPT_ROOM characters); names made from the sweep id (`hf-xxxxxxxx-<job>`) always do.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from hydra_flyte.errors import RunRuleError

#: The longest run name a Flyte control plane accepts from a client.
RUN_NAME_MAX = 30
_DNS1035_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$"
_DNS1035 = re.compile(_DNS1035_PATTERN)

#: Sweep ids, the base of the run names hydra-flyte makes itself: `hf-` and 8 hex digits.
SWEEP_ID_PREFIX = "hf-"
SWEEP_ID_HEX_DIGITS = 8
#: The labels hydra-flyte puts on a sweep's runs (its id, the job number) and on a single named run
#: (a token of that submission alone): who owns a run found under a planned name (remote.ownership).
SWEEP_LABEL = "hydra-flyte-sweep"
JOB_LABEL = "hydra-flyte-job"
SUBMISSION_LABEL = "hydra-flyte-submission"
#: Room a sweep's run names keep for a suffix added later: `-r<k>` (a job's new attempt, k <= 9)
#: or `-<call>` (a job's second to 99th `flyte.run`).
ATTEMPT_ROOM = len("-r9")

# Kubernetes (k8s.io/apimachinery/pkg/util/validation).
_NAME_MAX = 63
_PREFIX_MAX = 253
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ANNOTATIONS_MAX_BYTES = 256 * 1024
# IsEnvVarName: the names every Kubernetes version accepts (newer ones, with relaxed validation, more).
_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

_NAME_WHERE = "--name, run_options['name'], hydra.launcher.run_options.name"


# -- the names hydra-flyte forms ----------------------------------------------------------------


def new_sweep_id() -> str:
    """A new sweep id: `hf-` and 8 hex digits (valid in run names and label values; not a reserved `r`/`u` prefix)."""
    return f"{SWEEP_ID_PREFIX}{secrets.token_hex(SWEEP_ID_HEX_DIGITS // 2)}"


def job_run_name(base: str, job_num: int | None, call: int = 1) -> str:
    """A job's run name: `base` for a single run, `<base>-<job>` in a sweep; `-<call>` for its later `flyte.run`s."""
    name = base if job_num is None else f"{base}-{job_num}"
    return name if call == 1 else f"{name}-{call}"


def attempt_run_name(first: str, attempt: int) -> str:
    """A job's new attempt (`--resume`, `rerun --failed`): `<its first run's name>-r<attempt>`."""
    return f"{first}-r{attempt}"


# -- single rules: why a value is refused, or None -----------------------------------------------


def run_name_problem(name: str) -> str | None:
    """Why a Flyte control plane refuses `name` as a run name (too long, not a DNS-1035 label), or None."""
    if len(name) > RUN_NAME_MAX:
        return f"is {len(name)} characters, more than the {RUN_NAME_MAX} a Flyte control plane accepts"
    if _DNS1035.match(name):
        return None
    return f"is not a DNS-1035 label ({_dns1035_faults(name)})"


def _dns1035_faults(name: str) -> str:
    if not name:
        return "it is empty"
    faults = []
    if any(c.isupper() for c in name):
        faults.append("upper-case letters")
    others = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))})
    if others:
        faults.append("characters other than a-z, 0-9 and '-': " + " ".join(repr(c) for c in others))
    if not ("a" <= name[0].lower() <= "z"):
        faults.append(f"it starts with {name[0]!r}, not a letter")
    if not name[-1].isascii() or not name[-1].isalnum():
        faults.append(f"it ends with {name[-1]!r}, not a letter or digit")
    return "; ".join(faults) or "see the pattern"


def qualified_name_problem(key: str) -> str | None:
    """Why Kubernetes refuses `key` as a label or annotation key (`[prefix/]name`), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "has an empty prefix before '/'"
    if prefix.count("/"):
        return "has more than one '/'"
    if prefix and (len(prefix) > _PREFIX_MAX or not _DNS1123_SUBDOMAIN.match(prefix)):
        return (
            f"has the prefix {prefix!r}, which is not a DNS subdomain of at most {_PREFIX_MAX} characters "
            "(lower-case letters, digits, '-' and '.')"
        )
    if not name:
        return "has an empty name part"
    if len(name) > _NAME_MAX:
        return f"has a name part of {len(name)} characters, more than {_NAME_MAX}"
    if not _QUALIFIED_NAME.match(name):
        return f"has a name part {name!r} that {_alphanumeric_faults(name)}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why Kubernetes refuses `value` as a label value, or None (the empty value is allowed)."""
    if len(value) > _NAME_MAX:
        return f"is {len(value)} characters, more than {_NAME_MAX}"
    if value and not _QUALIFIED_NAME.match(value):
        return _alphanumeric_faults(value)
    return None


def _alphanumeric_faults(text: str) -> str:
    """What keeps `text` from being letters, digits, '-', '_' and '.' beginning and ending alphanumeric."""
    others = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c in "-_."))})
    if others:
        return "has characters other than letters, digits, '-', '_' and '.': " + " ".join(
            repr(c) for c in others
        )
    return "does not begin and end with a letter or digit"


def env_var_name_problem(name: str) -> str | None:
    """Why a pod refuses `name` as an environment variable name, or None."""
    if _ENV_VAR_NAME.match(name):
        return None
    if not name:
        return "is empty"
    if name[0].isdigit():
        return "starts with a digit"
    others = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "-._"))})
    return "has " + " ".join(repr(c) for c in others)


def dns1035_suggestion(name: str, max_length: int = RUN_NAME_MAX) -> str | None:
    """A name like `name` that is a DNS-1035 label of at most `max_length` characters, or None."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).lstrip("-0123456789")
    text = text[:max_length].rstrip("-")
    return text or None


# -- checks of a launch's runs: one RunRuleError, naming the rule, the job, the value and the fix ---


def check_single_run(run_options: Mapping[str, Any], *, labels: Mapping[str, str] | None = None) -> None:
    """A single run: its name (as given), labels (the run options' and `labels`), annotations and env var names."""
    check_metadata(run_options, labels=labels, where="the run")
    name = run_options.get("name")
    if name:
        check_run_name(str(name), where="the run")


def check_run_name(name: str, *, where: str, fix: str | None = None, sweep: bool = False) -> None:
    """One planned run name (a single run's, a job's later `flyte.run`'s, a new attempt's): RunRuleError if refused."""
    problem = run_name_problem(name)
    if problem is None:
        return
    suggestion = dns1035_suggestion(name)
    if fix is None:
        fix = f"give a name of at most {RUN_NAME_MAX} characters that is a DNS-1035 label ({_NAME_WHERE})"
        fix += f", e.g. {suggestion!r}" if suggestion else ""
        fix += ", or none: Flyte then chooses one"
    raise RunRuleError(
        rule="run name length" if len(name) > RUN_NAME_MAX else "run name format",
        job=where,
        value=name,
        message=f"the run name {name!r} of {where} {problem}{_NAME_RULE}. Fix: {fix}.",
        sweep=sweep,
    )


_NAME_RULE = (
    ": a Flyte control plane refuses it with INVALID_ARGUMENT (a run name is at most "
    f"{RUN_NAME_MAX} lower-case letters, digits and '-', starting with a letter and "
    f"ending with a letter or digit: {_DNS1035_PATTERN})"
)
_GENERATED = f"runs are then named after the sweep id ({SWEEP_ID_PREFIX}xxxxxxxx-<job>), which always fits"


def check_sweep(
    run_options: Mapping[str, Any],
    *,
    job_nums: Sequence[int],
    sweep_id: str | None = None,
    total: int | None = None,
    check_names: bool = True,
) -> None:
    """Every run of a sweep: the names of jobs `job_nums` (of `total` in all, when known), labels, annotations, env vars.

    `sweep_id`: the sweep's id when known (else one of its form: only the form matters). With
    `check_names=False` (a resumed sweep, whose names are the manifest's and are checked as its
    new attempts are planned) the names are left alone.
    """
    base_id = sweep_id or SWEEP_ID_PREFIX + "0" * SWEEP_ID_HEX_DIGITS
    last = max(job_nums, default=0)
    if total is not None:
        last = max(last, total - 1)
    ours = {SWEEP_LABEL: base_id, JOB_LABEL: str(last)}  # the longest job label stands for all
    check_metadata(run_options, labels=ours, where="every job's run", sweep=True)
    if not check_names or not job_nums:
        return
    given = run_options.get("name")
    base = str(given) if given else base_id
    first = min(job_nums)
    fits = longest_base(last)
    first_name = job_run_name(base, first)
    if not _DNS1035.match(first_name):
        suggestion = dns1035_suggestion(base, fits)
        raise RunRuleError(
            rule="run name format",
            job=f"job {first}",
            value=first_name,
            message=(
                f"job {first}'s run name {first_name!r} {run_name_problem(first_name)}{_NAME_RULE}, and this "
                f"sweep names every run <name>-<job>. Fix: give a name that is a DNS-1035 label ({_NAME_WHERE})"
                + (f", e.g. {suggestion!r}" if suggestion else "")
                + f", or none: {_GENERATED}."
            ),
            sweep=True,
        )
    last_name = job_run_name(base, last)
    if len(last_name) + ATTEMPT_ROOM <= RUN_NAME_MAX:
        return
    jobs = f"{last + 1} job{'s' if last else ''}"
    if fits > 0:
        suggestion = dns1035_suggestion(base, fits)
        fix = f"give a name of at most {fits} characters ({_NAME_WHERE})"
        fix += f", e.g. {suggestion!r}" if suggestion else ""
        fix += f", or none: {_GENERATED}"
        longest = f"the longest name that fits {jobs} is {fits} characters"
    else:
        fix = f"leave the name out: {_GENERATED}"
        longest = f"no name fits {jobs}"
    raise RunRuleError(
        rule="run name length",
        job=f"job {last}",
        value=last_name,
        message=(
            f"job {last}'s run name {last_name!r} is {len(last_name)} characters, and a Flyte control plane accepts "
            f"at most {RUN_NAME_MAX} (a longer one is refused with INVALID_ARGUMENT, after the jobs before it were "
            f"submitted). This sweep names its runs <name>-<job> (up to job {last}), and a job's new attempt "
            f"(--resume, rerun --failed) or second flyte.run adds up to {ATTEMPT_ROOM} characters ('-r9', '-99'): "
            f"{longest}. Fix: {fix}."
        ),
        sweep=True,
    )


def longest_base(last_job: int) -> int:
    """The longest name (`--name`) whose runs `<name>-<job>` fit for jobs up to `last_job`, with ATTEMPT_ROOM to spare."""
    return RUN_NAME_MAX - ATTEMPT_ROOM - len(f"-{last_job}")


def check_metadata(
    run_options: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    where: str,
    sweep: bool = False,
) -> None:
    """The labels (the run options' and `labels`), annotations and env var names of a run, as Kubernetes takes them."""
    given = {str(k): str(v) for k, v in (run_options.get("labels") or {}).items()}
    for key, value in {**given, **(labels or {})}.items():
        source = f"run_options['labels'][{key!r}]" if key in given else f"hydra-flyte's label {key!r}"
        problem = qualified_name_problem(key)
        if problem is not None:
            raise _metadata_error(
                "label key", where, key, sweep,
                f"the label key {key!r} ({source}) of {where} {problem}: {_LABEL_RULE} Fix: rename the key, "
                "e.g. 'team' or 'example.com/team'.",
            )  # fmt: skip
        problem = label_value_problem(value)
        if problem is not None:
            suggestion = re.sub(r"[^-_.A-Za-z0-9]+", "-", value).strip("-_.")[:_NAME_MAX].rstrip("-_.")
            example = f"{suggestion!r}, " if suggestion and suggestion != value else "'ml-research', "
            raise _metadata_error(
                "label value", where, value, sweep,
                f"{source} = {value!r} (a label of {where}) {problem}: {_LABEL_RULE} Fix: a value such as "
                f"{example}or keep free text in an annotation (run_options['annotations'], whose values may be "
                "anything).",
            )  # fmt: skip
    annotations = {str(k): str(v) for k, v in (run_options.get("annotations") or {}).items()}
    for key in annotations:
        problem = qualified_name_problem(key.lower())
        if problem is not None:
            raise _metadata_error(
                "annotation key", where, key, sweep,
                f"the annotation key {key!r} (run_options['annotations']) of {where} {problem}: annotations are "
                "copied onto a Kubernetes resource, whose keys are an optional DNS-subdomain prefix and '/', then "
                f"at most {_NAME_MAX} letters, digits, '-', '_' or '.' beginning and ending with one of the first "
                f"two; {_QUEUED} Fix: rename the key, e.g. 'note' or 'example.com/note'.",
            )  # fmt: skip
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_MAX_BYTES:
        raise _metadata_error(
            "annotations size", where, f"{size} bytes", sweep,
            f"the annotations of {where} (run_options['annotations']) hold {size} bytes, more than the "
            f"{_ANNOTATIONS_MAX_BYTES} Kubernetes accepts on one resource; {_QUEUED} Fix: keep large values out "
            "of the annotations (in the config, or in a file the task reads).",
        )  # fmt: skip
    for name in run_options.get("env_vars") or {}:
        name = str(name)
        problem = env_var_name_problem(name)
        if problem is not None:
            suggestion = re.sub(r"[^-._A-Za-z0-9]", "_", name).lstrip("0123456789") or "MY_VAR"
            raise _metadata_error(
                "env var name", where, name, sweep,
                f"the environment variable name {name!r} (run_options['env_vars'], --env) of {where} {problem}: "
                "a run's env vars become its pod's environment, and Kubernetes refuses a pod whose env var names "
                "are not letters, digits, '_', '-' and '.' not starting with a digit (the run fails as it "
                f"starts). Fix: rename it, e.g. {suggestion!r}.",
            )  # fmt: skip


_QUEUED = "the open-source Flyte control plane accepts such a run, then leaves it QUEUED for ever."
_LABEL_RULE = (
    "run labels are copied onto a Kubernetes resource, where a label value is empty or at most "
    f"{_NAME_MAX} letters, digits, '-', '_' or '.' beginning and ending with a letter or digit, and a key "
    f"is an optional DNS-subdomain prefix and '/' then a name of that form; {_QUEUED}"
)


def _metadata_error(rule: str, where: str, value: str, sweep: bool, message: str) -> RunRuleError:
    return RunRuleError(rule=rule, job=where, value=value, message=message, sweep=sweep)


# -- the one call of a launch -------------------------------------------------------------------


def check_launch(
    settings: Any, *, job_nums: Sequence[int], sweeper: Any = None, sweep_id: str | None = None
) -> None:
    """Before a remote sweep's launch (or batch) starts a job: every rule above for all its runs.

    `sweeper`: the sweep's `hydra.sweeper` config; a sampling sweeper's `n_trials` counts the jobs
    of its later batches too, so that none of them is refused after the first were submitted.
    A resumed sweep's names are the manifest's: they are checked as its new attempts are planned.
    The error is a Hydra compact error (its message alone, no traceback).
    """
    from hydra_flyte.config.validation import compact

    if settings.mode != "remote":
        return
    trials = sweeper.get("n_trials") if sweeper is not None and hasattr(sweeper, "get") else None
    total = trials if isinstance(trials, int) and not isinstance(trials, bool) else None
    try:
        check_sweep(
            settings.run_options,
            job_nums=job_nums,
            sweep_id=sweep_id,
            total=total,
            check_names=settings.resume is None,
        )
    except RunRuleError as exc:
        raise compact(exc) from None
