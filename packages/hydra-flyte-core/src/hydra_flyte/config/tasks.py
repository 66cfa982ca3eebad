"""What hydra_flyte needs to know about a Flyte task: its DictConfig parameter, name and inputs.

A task is a local one (`@env.task`, with its Python signature) or a reference to a deployed task
(`flyte.remote.Task.get(name, auto_version="latest")`, a lazy entity, or the `TaskDetails` it
fetches). A reference knows only its deployed interface, read from the control plane on first use:
there a `DictConfig` input is an untyped `dict` (Flyte sends it as a msgpack STRUCT), so a
reference's config parameter is its one `dict` input, and the composed config is sent as the
payload flyteplugins-omegaconf would send for a `DictConfig` (`task_inputs_for`), which the
deployed task reads back as its DictConfig.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from hydra_flyte.errors import ConfigurationError

_EMPTY = inspect.Parameter.empty


@functools.cache
def _reference_types() -> tuple[type, ...]:
    """The classes of flyte's task references, found through flyte.remote's public API (no network)."""
    import flyte.remote

    lazy = flyte.remote.Task.get("hydra-flyte.probe", version="probe")  # builds a reference, fetches nothing
    return (type(lazy), flyte.remote.TaskDetails)


def is_task_reference(task: Any) -> bool:
    """True for a reference to a deployed task (`flyte.remote.Task.get(...)`, or its `TaskDetails`)."""
    if "flyte.remote" not in sys.modules:  # nobody made a reference: no need to import flyte.remote
        return False
    return isinstance(task, _reference_types())


def reference_details(task: Any) -> Any:
    """The deployed task's `flyte.remote.TaskDetails` (read from the control plane the first time)."""
    import flyte.errors
    import flyte.remote

    if isinstance(task, flyte.remote.TaskDetails):
        return task
    try:
        return task.fetch()
    except flyte.errors.RemoteTaskNotFoundError as exc:
        raise ConfigurationError(
            f"the deployed task {task.name!r} was not found on the control plane ({exc}): check its name "
            f"(`env name.function name`), project, domain and version (`flyte get task {task.name}`)."
        ) from exc
    except flyte.errors.InitializationError as exc:
        raise ConfigurationError(
            f"the deployed task {task.name!r} is read from the control plane, and flyte is not initialised "
            f"({exc}): call flyte.init_from_config() (or flyte.init) first."
        ) from exc


def task_inputs_for(task: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs to call `task` with: for a reference, each DictConfig as the payload its deployed task reads.

    Flyte converts a reference's inputs by its deployed interface, where a DictConfig input is an
    untyped dict; the DictConfig's own transformer (flyteplugins-omegaconf) turns it into a payload
    of plain values, and sending that payload gives the deployed task exactly the bytes a local
    DictConfig-typed task would get.
    """
    if not is_task_reference(task) or not any(isinstance(v, DictConfig) for v in inputs.values()):
        return dict(inputs)
    from flyteplugins.omegaconf.codec import serialize_omegaconf

    return {k: serialize_omegaconf(v) if isinstance(v, DictConfig) else v for k, v in inputs.items()}


def _is_dictconfig(annotation: Any) -> bool:
    """True if a parameter annotation is DictConfig (also inside Optional/Annotated)."""
    if annotation is DictConfig:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, DictConfig)
    return any(_is_dictconfig(arg) for arg in typing.get_args(annotation))


def task_inputs(task: Any) -> Mapping[str, tuple[Any, Any]]:
    """The task's inputs as name -> (type, default); a clear error for non-tasks."""
    if is_task_reference(task):
        return reference_details(task).interface.inputs
    interface = getattr(task, "native_interface", None)
    if interface is None:
        raise ConfigurationError(
            f"{task!r} is not a Flyte task: decorate it with @env.task "
            "(env = flyte.TaskEnvironment(...)) before running it through hydra_flyte."
        )
    return interface.inputs


def task_short_name(task: Any) -> str:
    """The task's short name (`pipeline` for `training.pipeline`), the key used in task_env."""
    short = getattr(task, "short_name", None)
    if short:
        return str(short)
    return str(getattr(task, "name", task)).rsplit(".", 1)[-1]


def dictconfig_parameter(task: Any) -> str:
    """The name of the task's `DictConfig` parameter, whatever it is called."""
    if is_task_reference(task):
        return _reference_config_parameter(task)
    inputs = task_inputs(task)
    names = [name for name, (annotation, _) in inputs.items() if _is_dictconfig(annotation)]
    if not names:
        signature = ", ".join(f"{n}: {getattr(t, '__name__', t)}" for n, (t, _) in inputs.items())
        raise ConfigurationError(
            f"task '{task_short_name(task)}' has no DictConfig parameter (its inputs: {signature or 'none'}). "
            "hydra_flyte passes the composed config to a parameter annotated `omegaconf.DictConfig`: "
            f"add one, e.g. `async def {task_short_name(task)}(cfg: DictConfig, ...)`."
        )
    if len(names) > 1:
        raise ConfigurationError(
            f"task '{task_short_name(task)}' has several DictConfig parameters ({', '.join(names)}); "
            "hydra_flyte cannot tell which one receives the composed config: keep exactly one."
        )
    return names[0]


def check_task_kwargs(task: Any, config_param: str, kwargs: Mapping[str, Any]) -> None:
    """Reject keyword arguments the task does not accept, and missing required ones."""
    inputs = task_inputs(task)
    name = task_short_name(task)
    if config_param in kwargs:
        raise ConfigurationError(
            f"'{config_param}' was passed as a task argument, but hydra_flyte composes it from the config: "
            f"remove it and express changes as overrides (e.g. overrides=['key=value'])."
        )
    unknown = sorted(set(kwargs) - set(inputs))
    if unknown:
        accepted = ", ".join(n for n in inputs if n != config_param) or "none"
        raise ConfigurationError(
            f"task '{name}' does not accept {', '.join(repr(u) for u in unknown)} "
            f"(its other inputs: {accepted}): remove or rename the argument."
        )
    missing = [
        n for n, (_, default) in inputs.items() if n != config_param and n not in kwargs and default is _EMPTY
    ]
    if missing:
        raise ConfigurationError(
            f"task '{name}' needs {', '.join(repr(m) for m in missing)}: pass "
            + ", ".join(f"{m}=..." for m in missing)
            + " to hydra_run/hydra_sweep (on the CLI: --"
            + " ..., --".join(missing)
            + " ...)."
        )


def _reference_config_parameter(task: Any) -> str:
    """A reference's config parameter: its one untyped `dict` input (what a DictConfig input is once deployed)."""
    inputs = task_inputs(task)
    names = [name for name, (annotation, _) in inputs.items() if annotation is dict]
    if len(names) == 1:
        return names[0]
    signature = ", ".join(f"{n}: {getattr(t, '__name__', t)}" for n, (t, _) in inputs.items()) or "none"
    if not names:
        raise ConfigurationError(
            f"the deployed task {task.name!r} has no input that can take the composed config (its inputs: "
            f"{signature}): deployed, a DictConfig parameter is an untyped dict, and it has none. Deploy a "
            "task with a DictConfig parameter, or run a local task (@env.task) that calls this one."
        )
    raise ConfigurationError(
        f"the deployed task {task.name!r} has several untyped dict inputs ({', '.join(names)}); deployed, a "
        "DictConfig parameter is one of those, and hydra_flyte cannot tell which receives the composed "
        "config: run a local task (@env.task) that calls this one with it, or deploy it with one dict input."
    )
