"""What the SDK checks before Hydra starts: the task call, the config directory, the launch settings."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hydra_flyte.config.overrides import normalise, parse
from hydra_flyte.config.task_env import apply_task_env
from hydra_flyte.config.tasks import (
    check_task_kwargs,
    dictconfig_parameter,
    is_task_reference,
    task_inputs_for,
)
from hydra_flyte.config.validation import check_run_options
from hydra_flyte.errors import ConfigurationError
from hydra_flyte.remote.submit import JobSpec, submit
from hydra_flyte.settings_schema import LaunchSettings


@dataclass(frozen=True)
class TaskCall:
    """How one job calls the task: the config parameter, the other inputs, the task_env key."""

    task: Any
    config_param: str
    task_kwargs: Mapping[str, Any]
    task_env_key: str

    def start(self, cfg: Any, job: JobSpec) -> Any:
        entry_task = apply_task_env(self.task, cfg, task_env_key=self.task_env_key)
        inputs = task_inputs_for(self.task, {self.config_param: cfg, **self.task_kwargs})
        return submit(entry_task, (), inputs, job)

    def check(self, cfg: Any) -> None:
        """Raise the error this job's call would raise before submitting (its entry task's task_env)."""
        apply_task_env(self.task, cfg, task_env_key=self.task_env_key)


def composition_error(
    exc: BaseException, config_name: str | None, config_dir: str | None, overrides: list[str]
) -> ConfigurationError:
    """Hydra's composition error as ours: where to look, then Hydra's message with its own line breaks,
    and for a misspelled override the closest name (compose.hints). Called while Hydra is initialised."""
    from hydra.core.global_hydra import GlobalHydra

    from hydra_flyte.compose.hints import add_hint

    where = f"config '{config_name}'" + (f" in {config_dir}" if config_dir else " (ConfigStore only)")
    job = getattr(exc, "job_overrides", None)
    if job is not None:
        where += f" for the job [{' '.join(job) or 'no overrides'}]"
    if GlobalHydra.instance().is_initialized():
        loader = GlobalHydra.instance().config_loader()
        add_hint(exc, loader=loader, config_name=config_name, overrides=[*overrides, *(job or [])])
    return ConfigurationError(f"could not compose {where}: {str(exc).strip()}")


def _config_dir(config_path: str | os.PathLike[str] | None) -> str | None:
    """`config_path` made absolute against the working directory; it must be a directory."""
    if config_path is None:
        return None
    path = os.path.abspath(os.fspath(config_path))
    if not os.path.isdir(path):
        raise ConfigurationError(
            f"config directory {os.fspath(config_path)!r} not found (looked in {path}): config_path is relative "
            "to the working directory; pass an absolute path, or None for ConfigStore-only configs."
        )
    return path


def settings_from_keywords(keywords: Mapping[str, Any]) -> LaunchSettings:
    """The launch settings of an SDK call, from its setting keywords (run options checked), built once."""
    fields = dict(keywords)
    return LaunchSettings(run_options=check_run_options(fields.pop("run_options", None)), **fields)


def prepare(
    task: Any,
    *,
    config_path: Any,
    overrides: Iterable[str] | str | None,
    task_env_key: str,
    task_kwargs: Mapping[str, Any],
    settings: LaunchSettings,
) -> tuple[TaskCall, str | None, list[str], LaunchSettings]:
    """Validate everything that can be checked before Hydra starts; the settings the launch runs with.

    `hydra.launcher.<field>=...` overrides win over `settings`, as they would in Hydra (the settings
    come back unchanged when there are none).
    """
    from hydra_flyte.config.validation import check_settings, check_task_inputs

    override_list = normalise(overrides)
    fields = _launcher_overrides(parse(override_list))
    if fields:
        options = {**settings.run_options, **fields.pop("run_options", {})}
        settings = dataclasses.replace(settings, run_options=options, **fields)
    if settings.mode == "local" and is_task_reference(task):
        raise ConfigurationError(
            f"{task.name!r} is a reference to a deployed task, which runs on the control plane only: use "
            "mode='remote' (the CLI without --local), or run the task itself (@env.task) locally."
        )
    if is_task_reference(task):
        from hydra_flyte.remote.submit import ensure_endpoint

        ensure_endpoint()  # its interface is read from the control plane (next): a clear error first
    if not isinstance(task_env_key, str) or not task_env_key:
        raise ConfigurationError(f"task_env_key must be a non-empty string, got {task_env_key!r}.")
    config_param = dictconfig_parameter(task)
    check_task_kwargs(task, config_param, task_kwargs)
    task_kwargs = check_task_inputs(task, task_kwargs)
    check_settings(settings)
    call = TaskCall(
        task=task, config_param=config_param, task_kwargs=dict(task_kwargs), task_env_key=task_env_key
    )
    return call, _config_dir(config_path), override_list, settings


def _launcher_overrides(parsed: Iterable[Any]) -> dict[str, Any]:
    """The launcher fields set by `hydra.launcher.<field>=value` overrides; unknown fields are refused."""
    from hydra_flyte.config.validation import check_launcher_fields

    found: dict[str, Any] = {}
    for override in parsed:
        key = str(override.key_or_group)
        if not key.startswith("hydra.launcher.") or override.is_delete():
            continue
        path = key.split(".")[2:]
        check_launcher_fields([path[0]])
        if override.is_sweep_override():
            raise ConfigurationError(
                f"{override.input_line!r} sweeps over a launcher setting, which is one for the whole sweep: "
                "give it a single value."
            )
        value = override.value()
        if path[0] == "run_options":
            options = found.setdefault("run_options", {})
            if len(path) == 1:
                options.update(check_run_options(value))
            else:
                target = options
                for part in path[1:-1]:
                    target = target.setdefault(part, {})
                target[path[-1]] = value
        elif len(path) == 1:
            found[path[0]] = value
    return found


def without_flyte_launcher_selection(overrides: list[str]) -> list[str]:
    """Drop a redundant `hydra/launcher=flyte`; any other launcher is an error (the SDK always uses Flyte)."""
    kept = []
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+") == "hydra/launcher":
            if value != "flyte":
                raise ConfigurationError(
                    f"override {override!r} selects another launcher, but hydra_run/hydra_sweep always launch on "
                    "Flyte: remove it (the mode is chosen with mode='local' or mode='remote')."
                )
            continue
        kept.append(override)
    return kept
