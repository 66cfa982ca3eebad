"""The `run` level's options checked against each other and turned into `Settings` for the task level.

Also the click options built from hydra_flyte's settings schema, and the keys under which the
override flags and the settings are kept in the click context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import rich_click as click

from hydra_flyte.settings_schema import BY_NAME, cli_settings  # light: stdlib only

#: Keys under which the override flags store their values in `ctx.params`; not valid task input names.
_APP_OVERRIDES = "__hydra_app_overrides"
_HYDRA_OVERRIDES = "hydra_override"
#: Where the `run` level leaves its Settings for the task level (`ctx.meta`).
_SETTINGS = "flyte_hydra_cli.settings"


@dataclass(frozen=True)
class Settings:
    """Everything the `run` level decided, validated, for the task level to execute.

    `launch` holds the launch settings that have a flag (hydra_flyte.settings_schema), by name;
    each reads as an attribute too (`settings.wait`). None there means "not given": core's default applies.
    """

    config_path: str | None
    config_name: str | None
    multirun: bool
    mode: Literal["local", "remote"]
    task_env_key: str
    hydra_overrides: tuple[str, ...]
    follow: bool
    launch: dict[str, Any] = field(default_factory=dict)
    run_options: dict[str, Any] = field(default_factory=dict)
    init_args: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name in BY_NAME and name != "launch":
            return self.launch.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _pairs(values: Sequence[str], flag: str) -> dict[str, str] | None:
    """Parse repeated `KEY=VALUE` flags into a dict (None when there are none)."""
    if not values:
        return None
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"'{item}' is not KEY=VALUE: write it as {flag} name=value.", param_hint=f"'{flag}'"
            )
        parsed[key.strip()] = value
    return parsed


def _remote_only_options(params: dict[str, Any]) -> list[tuple[str, bool]]:
    """The `flyte run` options a purely local run cannot honour, and whether each was given."""
    return [
        ("--queue", bool(params["queue"])),
        ("--label", bool(params["label"])),
        ("--max-action-concurrency", params["max_action_concurrency"] is not None),
        ("--service-account", bool(params["service_account"])),
        ("--version", bool(params["version"])),
        ("--copy-style", params["copy_style"] != "loaded_modules"),
        ("--debug", bool(params["debug"])),
    ]


def _settings(params: dict[str, Any]) -> Settings:
    """Check the `run` options against each other and turn them into `Settings`."""
    usage = click.UsageError
    if params["wait"] is None:  # not given: a detached remote sweep returns once its run is created
        runs_here = params["local"] or params["tracked"] or params["mode"] == "local"
        params["wait"] = not params["detach"] or bool(runs_here)
    if params["tui"]:
        raise usage(
            "--tui is not supported by `flyte hydra run` (it renders one local run, and a Hydra run "
            "may be a sweep): drop --tui."
        )
    for name in ("run_project", "run_domain"):
        if params[name]:
            flag = "--" + name.replace("_", "-")
            raise usage(
                f"{flag} only applies to `flyte run deployed-task`: to choose where the run goes, "
                f"use --{name.split('_')[1]} instead."
            )
    if params["tracked_strict"] and not params["tracked"]:
        raise usage(
            "--tracked-strict only makes sense with --tracked: add --tracked or drop --tracked-strict."
        )

    local = params["local"] or params["tracked"]
    if params["mode"] == "remote" and local:
        flag = "--local" if params["local"] else "--tracked"
        raise usage(
            f"{flag} runs the task on this machine but --mode remote submits it to a Flyte cluster: "
            f"pass one of them, not both."
        )
    mode: Literal["local", "remote"] = "local" if local or params["mode"] == "local" else "remote"

    if params["follow"] and not params["wait"]:
        raise usage(
            "--follow streams the run's logs until it ends, --no-wait returns right after submission: "
            "drop one of them."
        )
    if params["follow"] and mode == "local":
        raise usage(
            "--follow streams the logs of a remote run; a local run prints its logs as it goes: drop --follow."
        )
    if params["follow"] and params["multirun"]:
        raise usage(
            "--follow streams the logs of a single run, but --multirun starts one run per job: drop "
            "--follow and open the run URLs printed as each job is submitted."
        )
    if not params["wait"] and mode == "local":
        raise usage(
            "--no-wait applies to remote runs; a local run always finishes before the command returns: "
            "drop --no-wait (or run remotely)."
        )

    _check_sweep_options(params, mode)
    if params["resume"] and not params["multirun"]:
        raise usage(
            "--resume finishes a sweep, and this is a single run: add --multirun (the command the sweep was "
            "started with, plus --resume SWEEP), or drop --resume."
        )

    if mode == "local" and not params["tracked"]:
        remote_only = [flag for flag, given in _remote_only_options(params) if given]
        if remote_only:
            raise usage(
                f"{', '.join(remote_only)} only {'affects' if len(remote_only) == 1 else 'affect'} runs on a "
                f"Flyte cluster, and this run is local: drop {' and '.join(remote_only)}, or run remotely "
                "(without --local)."
            )

    config_path = params["config_path"]
    if config_path is not None:
        resolved = Path(config_path).expanduser()
        if not resolved.is_absolute():
            resolved = Path.cwd() / resolved
        if not resolved.is_dir():
            raise click.BadParameter(
                f"config directory '{config_path}' does not exist (resolved to {resolved}): pass the "
                "directory holding your YAML configs, relative to the current directory or absolute, or "
                "omit --config-path for configs registered only in Hydra's ConfigStore.",
                param_hint="'--config-path'",
            )
        config_path = str(resolved)

    run_options: dict[str, Any] = {"copy_style": params["copy_style"]}
    for key in ("version", "name", "raw_data_path", "service_account", "queue"):
        if params[key]:
            run_options[key] = params[key]
    if params["max_action_concurrency"] is not None:
        run_options["max_action_concurrency"] = params["max_action_concurrency"]
    if params["debug"]:
        run_options["debug"] = True
    env_vars = _pairs(params["env"], "--env")
    if env_vars:
        run_options["env_vars"] = env_vars
    labels = _pairs(params["label"], "--label")
    if labels:
        run_options["labels"] = labels
    if params["tracked"]:
        run_options["tracked"] = True
        if params["tracked_strict"]:
            run_options["tracked_strict"] = True

    return Settings(
        config_path=config_path,
        config_name=params["config_name"],
        multirun=params["multirun"],
        mode=mode,
        task_env_key=params["task_env_key"],
        hydra_overrides=tuple(params[_HYDRA_OVERRIDES]),
        follow=params["follow"],
        launch={s.name: params[s.name] for s in cli_settings()},
        run_options=run_options,
        init_args={
            "project": params["project"],
            "domain": params["domain"],
            "root_dir": params["root_dir"],
            "images": tuple(params["image"]) or None,
            "sync_local_sys_paths": not params["no_sync_local_sys_paths"],
        },
    )


def _check_sweep_options(params: dict[str, Any], mode: str) -> None:
    """The options that only steer a remote sweep: rejected where core would ignore them."""
    usage = click.UsageError
    given = [
        flag
        for flag, on in (
            ("--submit-max-workers", params["submit_max_workers"] is not None),
            ("--fail-fast", params["fail_fast"]),
            ("--abort-on-interrupt", params["abort_on_interrupt"]),
            ("--detach", params["detach"]),
            ("--max-concurrency", params["max_concurrency"] is not None),
        )
        if on
    ]
    if not given:
        return
    drop = " and ".join(given)
    if not params["multirun"]:
        raise usage(
            f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} to a sweep, and this is a "
            f"single run: add --multirun, or drop {drop}."
        )
    if mode == "local":
        raise usage(
            f"{', '.join(given)} only {'acts' if len(given) == 1 else 'act'} on remote runs, and this sweep "
            f"runs locally (one job after the other, in this process): drop {drop}, or run remotely."
        )
    if "--max-concurrency" in given and not params["detach"]:
        raise usage(
            "--max-concurrency limits the jobs a detached sweep's driver runs at once: add --detach, or use "
            "--submit-max-workers / --wait-max-workers for a sweep driven from here."
        )
    # A detached sweep's driver acts on the cluster (fail_fast included) whether or not we wait here.
    here = ("--submit-max-workers", "--detach", "--max-concurrency") + (
        ("--fail-fast",) if params["detach"] else ()
    )
    waiting_only = [flag for flag in given if flag not in here]
    if waiting_only and not params["wait"]:
        raise usage(
            f"{', '.join(waiting_only)} {'acts' if len(waiting_only) == 1 else 'act'} while the sweep waits "
            f"for its runs, and --no-wait returns once they are submitted: drop {' and '.join(waiting_only)} "
            "or --no-wait."
        )


def _setting_options() -> list[click.Option]:
    """One option per launch setting that has a flag (hydra_flyte.settings_schema): its flag, default and help."""
    from typing import Optional

    options = []
    for s in cli_settings():
        kwargs: dict[str, Any] = {"default": s.cli_default, "help": s.cli_help}
        if s.type is bool and "/" not in s.cli:
            kwargs["is_flag"] = True
        elif s.type in (int, Optional[int]):  # noqa: UP045 - counts of workers: positive
            kwargs["type"] = click.IntRange(min=1)
        elif s.type is float:  # durations: zero or more
            kwargs["type"] = click.FloatRange(min=0)
        if s.cli_metavar:
            kwargs["metavar"] = s.cli_metavar
        kwargs["show_default"] = s.cli_default is not None and not kwargs.get("is_flag", False)
        options.append(click.Option([s.cli, s.name], **kwargs))
    return options
