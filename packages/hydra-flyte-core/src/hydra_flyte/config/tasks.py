"""What hydra_flyte needs to know about a Flyte task: its DictConfig parameter, name and inputs."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from hydra_flyte.errors import ConfigurationError

_EMPTY = inspect.Parameter.empty


def _is_dictconfig(annotation: Any) -> bool:
    """True if a parameter annotation is DictConfig (also inside Optional/Annotated)."""
    if annotation is DictConfig:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, DictConfig)
    return any(_is_dictconfig(arg) for arg in typing.get_args(annotation))


def _task_inputs(task: Any) -> Mapping[str, tuple[Any, Any]]:
    """The task's inputs as name -> (type, default); a clear error for non-tasks."""
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
    inputs = _task_inputs(task)
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
    inputs = _task_inputs(task)
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
