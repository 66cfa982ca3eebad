"""Checks that run before anything is submitted, and the one shape our errors take in every entry point.

- Settings: launcher fields (unknown ones get the accepted list and the closest match), run
  options (a mapping flyte.with_runcontext accepts, env vars and labels as string mappings).
- Task inputs: converted by Flyte's own type engine, as a submission would, before Hydra starts.
- Resource quantities: the Kubernetes quantity grammar, by the kubernetes client's own parser.
- Sweeps: every invalid job of a launch is collected into one `SweepValidationError`.
- The endpoint: one TCP connect with a timeout, so a dead control plane is named in seconds.
- `compact`: our configuration errors as Hydra's compact errors, which Hydra prints without a
  traceback (as it prints its own composition errors).

Imports nothing heavy at module level: `apply_task_env` in a task pod uses the quantity check.
"""

from __future__ import annotations

import difflib
import logging
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from hydra_flyte.errors import ConfigurationError, EndpointUnreachableError, NoEndpointError
from hydra_flyte.settings_schema import launcher_fields

log = logging.getLogger(__name__)

#: How long the endpoint probe waits for a TCP connection.
PROBE_TIMEOUT_SECONDS = 5.0
#: A successful probe of an endpoint is trusted this long (a sweep's jobs each ask).
_PROBE_TRUSTED_SECONDS = 30.0

_KUBERNETES_HINT = "pip install 'hydra-flyte-core[image]'  (or: pip install kubernetes)"


def closest(word: str, choices: Iterable[str]) -> str:
    """` Did you mean 'x'?` for the closest of `choices`, or ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


# -- launcher fields ---------------------------------------------------------------------------


def check_launcher_fields(keys: Iterable[str], *, where: str = "hydra.launcher") -> None:
    """Unknown launcher fields: name each, list the accepted ones, suggest the closest."""
    accepted = launcher_fields()
    unknown = [k for k in keys if k not in accepted and not str(k).startswith("_")]
    if not unknown:
        return
    key = unknown[0]
    more = f" (and {', '.join(repr(k) for k in unknown[1:])})" if unknown[1:] else ""
    raise ConfigurationError(
        f"unknown launcher field {where}.{key}{more}.{closest(str(key), accepted)} "
        f"The flyte launcher accepts: {', '.join(accepted)}."
    )


def launch_settings(fields: Mapping[str, Any]) -> Any:
    """LaunchSettings from the fields of `hydra.launcher` (a node or a mapping), every field checked."""
    from omegaconf import DictConfig, OmegaConf

    from hydra_flyte.settings_schema import settings_from_config

    if isinstance(fields, DictConfig):
        fields = OmegaConf.to_container(fields, resolve=True)  # type: ignore[assignment]
    check_launcher_fields(fields)
    options = fields.get("run_options")
    if options is not None and not isinstance(options, Mapping):
        check_run_options(options)
    settings = settings_from_config(fields)
    check_settings(settings)
    return settings


def check_settings(settings: Any) -> None:
    """The run options of launch settings, as flyte.with_runcontext will take them."""
    check_run_options(settings.run_options)
    check_runcontext(settings.run_options, settings.mode)


# -- run options -------------------------------------------------------------------------------

_STRING_MAPPINGS = ("env_vars", "labels", "annotations", "custom_context")


def check_run_options(options: Any) -> dict[str, Any]:
    """`options` as a dict flyte.with_runcontext accepts; a ConfigurationError naming what is wrong."""
    import inspect

    import flyte

    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(
            f"run_options must be a mapping of flyte.with_runcontext keywords, e.g. "
            f"{{'name': 'my-sweep', 'env_vars': {{'KEY': 'value'}}}}; got {type(options).__name__} ({options!r})."
        )
    options = dict(options)
    accepted = [
        name
        for name, p in inspect.signature(flyte.with_runcontext).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not name.startswith("_")
    ]
    unknown = [k for k in options if k not in accepted and k != "mode"]
    if unknown:
        key = str(unknown[0])
        raise ConfigurationError(
            f"unknown run option {key!r}.{closest(key, accepted)} run_options go to flyte.with_runcontext, "
            f"which accepts: {', '.join(accepted)}."
        )
    for key in _STRING_MAPPINGS:
        value = options.get(key)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                f"run_options['{key}'] must be a mapping of names to strings, e.g. {{'KEY': 'value'}}; "
                f"got {type(value).__name__} ({value!r})."
            )
        bad = [
            k
            for k, v in value.items()
            if not isinstance(k, str) or not isinstance(v, (str, int, float, bool))
        ]
        if bad:
            raise ConfigurationError(
                f"run_options['{key}'][{bad[0]!r}] must map a string to a string, "
                f"got {value[bad[0]]!r} ({type(value[bad[0]]).__name__})."
            )
    return options


def check_runcontext(options: Mapping[str, Any], mode: str) -> None:
    """Let flyte.with_runcontext itself judge the options (types and values it checks on creation)."""
    import flyte

    try:
        flyte.with_runcontext(mode=mode, **options)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"run_options rejected by flyte.with_runcontext: {exc}") from exc


# -- task inputs -------------------------------------------------------------------------------


def check_task_inputs(task: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Each task input checked by Flyte's type engine (as a submission would); the first that fails is named.

    Returns the inputs to pass: as given, except that an int given for a float input becomes a float
    (Python's own widening, which Flyte's engine does not do).
    """
    converted = dict(kwargs)
    if not kwargs:
        return converted
    from flyte.types import TypeEngine

    from hydra_flyte.config.tasks import task_inputs, task_short_name

    inputs = task_inputs(task)
    for name, value in kwargs.items():
        python_type = inputs[name][0]
        if python_type is float and isinstance(value, int) and not isinstance(value, bool):
            value = converted[name] = float(value)
        try:
            literal_type = TypeEngine.to_literal_type(python_type)
            _run_coroutine(TypeEngine.to_literal(value, python_type, literal_type))
        except Exception as exc:
            needs = getattr(python_type, "__name__", None) or str(python_type)
            raise ConfigurationError(
                f"task '{task_short_name(task)}' input {name!r} needs {needs}, got {value!r} "
                f"({type(value).__name__}): pass a {needs} (Flyte's type engine said: {_first_line(exc)})."
            ) from exc
    return converted


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _run_coroutine(coro: Any) -> Any:
    """Run a coroutine to completion here, or in a helper thread if this thread runs an event loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, name="hydra-flyte-convert")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


# -- resource quantities -----------------------------------------------------------------------

_QUANTITY_FIELDS = ("cpu", "memory", "disk", "shm")
_warned_unchecked: list[bool] = []


def check_resource_quantities(value: Mapping[str, Any], *, path: str) -> None:
    """Every quantity in a resources mapping parses in the Kubernetes grammar; a request is not above its limit."""
    from hydra_flyte.compat.kubernetes_private import quantity_parser

    parse = quantity_parser()
    for key in _QUANTITY_FIELDS:
        quantity = value.get(key)
        if quantity is None or (key == "shm" and quantity == "auto"):
            continue
        if parse is None:
            if isinstance(quantity, str) and not _warned_unchecked:
                _warned_unchecked.append(True)
                log.warning(
                    f"'{path}.{key}' = {quantity!r} is not checked against the Kubernetes quantity grammar: "
                    f"the kubernetes client is not installed ({_KUBERNETES_HINT})."
                )
            continue
        pair = quantity if isinstance(quantity, (tuple, list)) else (quantity,)
        parsed = [_parse_one(parse, q, path=f"{path}.{key}") for q in pair]
        if len(parsed) == 2 and parsed[0] > parsed[1]:
            raise ConfigurationError(
                f"'{path}.{key}' requests {pair[0]!r}, more than its limit {pair[1]!r}: "
                "write it as [request, limit] with the request at most the limit."
            )


def _parse_one(parse: Any, quantity: Any, *, path: str) -> Any:
    if isinstance(quantity, bool) or not isinstance(quantity, (str, int, float)):
        return quantity  # flyte.Resources reports the wrong type
    try:
        parsed = parse(quantity)
    except (ValueError, ArithmeticError) as exc:
        raise ConfigurationError(
            f"'{path}' = {quantity!r} is not a Kubernetes quantity ({exc}): write a number with an optional "
            "suffix, e.g. cpu: '500m' or 2, memory: 512Mi, 8Gi or 1G."
        ) from exc
    if parsed < 0:
        raise ConfigurationError(f"'{path}' = {quantity!r} is negative: a resource quantity is at least 0.")
    return parsed


# -- sweeps ------------------------------------------------------------------------------------


def is_our_configuration_error(exc: Any) -> bool:
    """True for the errors that mean "the input is wrong, nothing ran": ours, never a task's own failure."""
    return isinstance(exc, (ConfigurationError, NoEndpointError))


# -- the endpoint ------------------------------------------------------------------------------


_probed: dict[str, float] = {}


def host_and_port(endpoint: str) -> tuple[str, int] | None:
    """The (host, port) a Flyte endpoint string connects to: `dns:///h:p`, `http(s)://h[:p]`, `h:p`."""
    text = endpoint.strip()
    if text.startswith("dns:///"):
        text = "grpc://" + text[len("dns:///") :]
    elif "://" not in text:
        text = "grpc://" + text
    parts = urlsplit(text)
    host = parts.hostname
    if not host:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None:
        port = 80 if parts.scheme == "http" else 443
    return host, port


def probe_endpoint(endpoint: str | None, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Fail within `timeout` seconds, naming `endpoint`, if nothing accepts a TCP connection there."""
    import os

    if not endpoint:
        return
    if any(
        os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")
    ):
        return  # through a proxy, a direct connection says nothing about the endpoint
    now = time.monotonic()
    if now - _probed.get(endpoint, -_PROBE_TRUSTED_SECONDS - 1) < _PROBE_TRUSTED_SECONDS:
        return
    target = host_and_port(endpoint)
    if target is None:
        raise EndpointUnreachableError(endpoint, "not a host:port this client can connect to")
    host, port = target
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        raise EndpointUnreachableError(
            endpoint, f"no answer from {host}:{port} within {timeout:g} s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise EndpointUnreachableError(endpoint, f"{host}:{port}: {reason}") from None
    _probed[endpoint] = now


# -- Hydra's compact errors --------------------------------------------------------------------

_compact_types: dict[type, type] = {}


def compact(exc: BaseException) -> BaseException:
    """`exc` as an instance of a subclass of its type and Hydra's CompactHydraException (same message).

    Hydra's `run_and_report` prints a CompactHydraException as its message alone, the way it
    prints its own composition errors; HYDRA_FULL_ERROR=1 still shows the traceback.
    """
    from hydra.errors import CompactHydraException

    if isinstance(exc, CompactHydraException):
        return exc
    kind = type(exc)
    compact_kind = _compact_types.get(kind)
    if compact_kind is None:
        compact_kind = type(kind.__name__, (kind, CompactHydraException), {"__module__": kind.__module__})
        _compact_types[kind] = compact_kind
    new = compact_kind.__new__(compact_kind)
    new.__dict__.update(exc.__dict__)
    new.args = exc.args
    new.__cause__ = exc.__cause__
    new.__suppress_context__ = True
    return new  # type: ignore[no-any-return]


# -- sweepers ----------------------------------------------------------------------------------

_BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def check_sweeper_supports(config: Any) -> None:
    """`interval(...)` needs a sweeper that samples (Optuna's): say so, with the install line if needed."""
    import importlib.util

    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    target = str(config.hydra.sweeper.get("_target_", ""))
    if target != _BASIC_SWEEPER:
        return
    overrides = list(config.hydra.overrides.task)
    parser = OverridesParser.create()
    for text in overrides:
        try:
            (parsed,) = parser.parse_overrides([text])
        except Exception:
            continue  # Hydra reports syntax errors itself
        if parsed.value_type == ValueType.INTERVAL_SWEEP:
            installed = importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None
            install = "" if installed else " (install it first: pip install hydra-optuna-sweeper)"
            raise ConfigurationError(
                f"{text!r} samples from an interval, which Hydra's basic sweeper cannot do (it sweeps lists, "
                f"range() and choice()): select a sampling sweeper with hydra/sweeper=optuna{install}, "
                "or sweep over a list of values instead, e.g. 0.001,0.01,0.1."
            )
