"""`flyte hydra run [OPTIONS] SCRIPT TASK_NAME [--cfg OVERRIDE ...] [TASK INPUTS]`.

Three nested click levels, the shape `flyte run` uses:

* `run` (`RunGroup`) holds the Hydra options and every option of `flyte run`; its
  subcommands are Python files.
* `SCRIPT` (`ScriptGroup`) imports the file; its subcommands are the tasks defined there.
* `TASK_NAME` (`TaskCommand`) has one option per task input (converted by Flyte, as in
  `flyte run`) plus the override flag named after the task's `DictConfig` parameter.

hydra_flyte (and so Hydra) is imported only when a command runs or completes.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

import rich_click as click
from click.shell_completion import CompletionItem

from hydra_flyte.settings_schema import BY_NAME, cli_settings  # light: stdlib only

from . import _flyte_private as fp
from ._completion import hydra_suggestions, is_hydra_override, split_assignment
from ._script import ScriptError, load_script, tasks_in

#: Keys under which the override flags store their values in `ctx.params`; not valid task input names.
_APP_OVERRIDES = "__hydra_app_overrides"
_HYDRA_OVERRIDES = "hydra_override"
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


# ----------------------------------------------------------------------------------------------
# Validation of the `run` level
# ----------------------------------------------------------------------------------------------
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
    waiting_only = [flag for flag in given if flag != "--submit-max-workers"]
    if waiting_only and not params["wait"]:
        raise usage(
            f"{', '.join(waiting_only)} {'acts' if len(waiting_only) == 1 else 'act'} while the sweep waits "
            f"for its runs, and --no-wait returns once they are submitted: drop {' and '.join(waiting_only)} "
            "or --no-wait."
        )


# ----------------------------------------------------------------------------------------------
# Errors and output
# ----------------------------------------------------------------------------------------------
def _verbose(ctx: click.Context) -> bool:
    """True when `flyte -v ...` asked for verbose output (and so for tracebacks)."""
    obj = ctx.find_root().obj
    return getattr(obj, "log_level", None) is not None


def _fail(ctx: click.Context, message: str, exc: BaseException | None = None) -> NoReturn:
    """Exit 1 with a one-paragraph message; the traceback too when -v was given."""
    if exc is not None and _verbose(ctx):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    raise click.ClickException(message)


# ----------------------------------------------------------------------------------------------
# Completion helpers
# ----------------------------------------------------------------------------------------------
def _run_ctx(ctx: click.Context) -> click.Context | None:
    """The context of the `run` level, from any context below it."""
    current: click.Context | None = ctx
    # Not isinstance(): rich_click's command classes answer isinstance() loosely.
    while current is not None and not getattr(current.command, "is_hydra_run_level", False):
        current = current.parent
    return current


def _complete_overrides(
    ctx: click.Context, *, hydra_namespace: bool, incomplete: str, strip: str = ""
) -> list[CompletionItem]:
    """Hydra's suggestions for an app override (`--cfg`) or a Hydra override (`--hydra-override`)."""
    run_ctx = _run_ctx(ctx)
    if run_ctx is None:
        return []
    run_params = run_ctx.params
    config_path = run_params.get("config_path")
    if config_path and not Path(config_path).is_dir():
        return []
    previous = [
        *(run_params.get(_HYDRA_OVERRIDES) or ()),
        *(ctx.params.get(_HYDRA_OVERRIDES) or () if ctx is not run_ctx else ()),
        *(ctx.params.get(_APP_OVERRIDES) or ()),
    ]
    found = hydra_suggestions(
        config_dir=config_path,
        config_name=run_params.get("config_name"),
        previous=previous,
        word=incomplete,
        multirun=bool(run_params.get("multirun")),
    )
    found = [s for s in found if is_hydra_override(s) == hydra_namespace]
    return [CompletionItem(s[len(strip) :] if strip and s.startswith(strip) else s) for s in found]


def _complete_app_override(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _complete_overrides(ctx, hydra_namespace=False, incomplete=incomplete)


def _complete_hydra_override(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    if not incomplete:
        incomplete = "hydra"
    return _complete_overrides(ctx, hydra_namespace=True, incomplete=incomplete)


def _complete_config_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    config_path = ctx.params.get("config_path")
    if not config_path or not Path(config_path).is_dir():
        return []
    names = sorted(p.stem for p in Path(config_path).glob("*.yaml"))
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def _bash_split_override(
    ctx: click.Context, incomplete: str, app_flag: str | None
) -> list[CompletionItem] | None:
    """Complete `--cfg key=<TAB>` as bash delivers it (see `split_assignment`)."""
    flags = ["--hydra-override", *([app_flag] if app_flag else [])]
    split = split_assignment(flags, incomplete)
    if split is None:
        return None
    flag, word, prefix = split
    return _complete_overrides(ctx, hydra_namespace=flag == "--hydra-override", incomplete=word, strip=prefix)


# ----------------------------------------------------------------------------------------------
# The three levels
# ----------------------------------------------------------------------------------------------
def _hydra_override_option() -> click.Option:
    return click.Option(
        ["--hydra-override", _HYDRA_OVERRIDES],
        multiple=True,
        metavar="OVERRIDE",
        shell_complete=_complete_hydra_override,
        help="Override of Hydra's own config: `hydra.*` values or `hydra/*` group selections, e.g. "
        "`hydra/sweeper=optuna`. Repeatable; also accepted after TASK_NAME.",
    )


def _task_help(task: Any) -> str | None:
    """The task's documentation: flyte's parsed docs if any, else the function's docstring."""
    docs = getattr(task, "docs", None)
    if docs is not None and callable(getattr(docs, "__help__str__", None)):
        return docs.__help__str__()
    return inspect.getdoc(getattr(task, "func", None))


class TaskCommand(click.RichCommand):
    """`... SCRIPT TASK_NAME`: runs one task, with its inputs as options."""

    def __init__(self, *, task: Any, task_name: str, script: str, config_param: str) -> None:
        self.task = task
        self.config_param = config_param
        self.script = script
        # Named like every other task input of `flyte run` (`--<parameter name>`).
        self.app_flag = f"--{config_param}"
        params: list[click.Parameter] = [
            click.Option(
                [self.app_flag, _APP_OVERRIDES],
                multiple=True,
                metavar="OVERRIDE",
                shell_complete=_complete_app_override,
                help=f"Hydra override of the config passed as `{config_param}`, e.g. `optimizer.lr=0.01`, "
                "`optimizer=sgd`, `+task_env=a100` or, with --multirun, `optimizer.lr=0.001,0.01`. Repeatable.",
            ),
        ]
        inputs = fp.task_input_options(task, skip=config_param)
        params.extend(inputs)
        if not any(p.name == _HYDRA_OVERRIDES for p in inputs):
            params.append(_hydra_override_option())
        super().__init__(
            name=task_name,
            params=params,
            help=_task_help(task) or f"Run task `{task_name}` of {script} with a Hydra config.",
        )

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        split = _bash_split_override(ctx, incomplete, self.app_flag)
        if split is not None:
            return split
        if not incomplete:
            # Nothing typed yet after SCRIPT TASK_NAME: offer the override flag first, then the inputs.
            names = [self.app_flag]
            for param in self.get_params(ctx):
                if isinstance(param, click.Option) and not param.hidden:
                    names.extend(o for o in param.opts if o.startswith("--") and o not in names)
            return [CompletionItem(n) for n in names]
        return super().shell_complete(ctx, incomplete)

    def _check_required(self, ctx: click.Context) -> None:
        """Required task inputs: flyte's options default to None, which click does not count as missing."""
        missing = [
            p
            for p in self.params
            if isinstance(p, click.Option) and p.required and ctx.params.get(p.name) is None
        ]
        if missing:
            flags = ", ".join(f"'{p.opts[0]}'" for p in missing)
            raise click.UsageError(
                f"Missing option {flags}: task '{self.name}' needs a value for each of its inputs without a "
                f"default (see `flyte hydra run {self.script} {self.name} --help`).",
                ctx,
            )

    def invoke(self, ctx: click.Context) -> Any:
        run_ctx = _run_ctx(ctx)
        assert run_ctx is not None
        settings: Settings = run_ctx.meta[_SETTINGS]
        self._check_required(ctx)
        params = dict(ctx.params)
        app_overrides = list(params.pop(_APP_OVERRIDES, ()))
        hydra_overrides = [*settings.hydra_overrides, *params.pop(_HYDRA_OVERRIDES, ())]
        for override in app_overrides:
            if is_hydra_override(override):
                raise click.BadParameter(
                    f"'{override}' overrides Hydra's own config: pass it as --hydra-override {override}.",
                    param_hint=f"'{self.app_flag}'",
                )
        for override in hydra_overrides:
            if not is_hydra_override(override):
                raise click.BadParameter(
                    f"'{override}' is not in the hydra.* / hydra/* namespace: overrides of the task's config "
                    f"go through {self.app_flag}, e.g. {self.app_flag} {override}.",
                    param_hint="'--hydra-override'",
                )
        _execute(
            ctx,
            task=self.task,
            settings=settings,
            overrides=[*hydra_overrides, *app_overrides],
            task_kwargs=params,
        )


class ScriptGroup(click.RichGroup):
    """`... SCRIPT`: imports the script; its subcommands are its tasks that take a `DictConfig`."""

    def __init__(self, *, script: str) -> None:
        super().__init__(
            name=script,
            help=f"Run a task of {script} with a Hydra-composed config.",
            subcommand_metavar="TASK_NAME [--CONFIG_PARAM OVERRIDE]... [TASK INPUTS]...",
        )
        self.script = script
        self._tasks: dict[str, Any] | None = None

    def tasks(self) -> dict[str, Any]:
        """Every task of the script, by name (imports the script once)."""
        if self._tasks is None:
            self._tasks = tasks_in(load_script(self.script))
        return self._tasks

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            tasks = self.tasks()
        except ScriptError as exc:
            if ctx.resilient_parsing:
                return []
            _fail(ctx, str(exc), exc.__cause__ or exc)
        return sorted(name for name, task in tasks.items() if _config_param(task) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        try:
            task = self.tasks().get(cmd_name)
        except ScriptError:
            return None
        param = _config_param(task) if task is not None else None
        if param is None:
            return None
        try:
            return TaskCommand(task=task, task_name=cmd_name, script=self.script, config_param=param)
        except Exception:  # listed in help or completion only; running it reports the problem
            return None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if ctx.resilient_parsing:  # shell completion: a broken script gives no suggestions
            return super().resolve_command(ctx, args)
        cmd_name = args[0]
        try:
            tasks = self.tasks()
        except ScriptError as exc:
            _fail(ctx, str(exc), exc.__cause__ or exc)
        task = tasks.get(cmd_name)
        if task is None:
            known = ", ".join(self.list_commands(ctx)) or "none (decorate a function with @env.task)"
            raise click.UsageError(
                f"task '{cmd_name}' not found in {self.script}. Tasks there that take a DictConfig: {known}. "
                "Pass one of them as TASK_NAME.",
                ctx,
            )
        from hydra_flyte import ConfigurationError, dictconfig_parameter

        try:
            config_param = dictconfig_parameter(task)
        except ConfigurationError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        try:
            command = TaskCommand(
                task=task, task_name=cmd_name, script=self.script, config_param=config_param
            )
        except click.ClickException:
            raise
        except Exception as exc:  # e.g. an input type flyte's CLI cannot convert
            _fail(
                ctx,
                f"cannot offer the inputs of task '{cmd_name}' as options: {type(exc).__name__}: {exc}",
                exc,
            )
        return cmd_name, command, args[1:]


def _config_param(task: Any) -> str | None:
    """The task's DictConfig parameter, or None when it has none (or several)."""
    from hydra_flyte import ConfigurationError, dictconfig_parameter

    try:
        return dictconfig_parameter(task)
    except ConfigurationError:
        return None


class RunGroup(click.RichGroup):
    """`flyte hydra run`: its subcommands are Python files."""

    is_hydra_run_level = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        # For completion of SCRIPT. Help does not list them (see format_commands).
        return sorted(p.name for p in Path.cwd().glob("*.py") if p.name != "__init__.py")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Help does not list the scripts of the current directory as if they were subcommands."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return ScriptGroup(script=cmd_name) if Path(cmd_name).is_file() else None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        ctx.meta[_SETTINGS] = _settings(ctx.params)
        cmd_name = args[0]
        path = Path(cmd_name)
        if not path.is_file():
            kind = "is a directory, not a Python file" if path.is_dir() else "does not exist"
            where = "" if path.is_absolute() else f" (looked in {Path.cwd()})"
            raise click.UsageError(
                f"script '{cmd_name}' {kind}{where}: pass the path of the Python file that defines "
                "the task, e.g. `flyte hydra run train.py pipeline`.",
                ctx,
            )
        return cmd_name, ScriptGroup(script=cmd_name), args[1:]

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        split = _bash_split_override(ctx, incomplete, None)
        if split is not None:
            return split
        return super().shell_complete(ctx, incomplete)


def _execute(
    ctx: click.Context,
    *,
    task: Any,
    settings: Settings,
    overrides: list[str],
    task_kwargs: dict[str, Any],
) -> None:
    """Initialise Flyte like `flyte run`, run or sweep through hydra_flyte, print the outcome."""
    import hydra_flyte
    from hydra_flyte import (
        ConfigurationError,
        ContactLostError,
        DryRunPlan,
        NoEndpointError,
        RunFailedError,
        RunNameClashError,
        SweepFailedError,
    )

    run_ctx = _run_ctx(ctx)
    assert run_ctx is not None
    if settings.mode == "remote" or "tracked" in settings.run_options:
        _check_project_and_domain(ctx, settings)
    try:
        fp.initialize_config(run_ctx, **settings.init_args)
    except Exception as exc:  # a malformed config file, an unreachable auth server, ...
        _fail(ctx, f"could not initialise Flyte from its configuration: {type(exc).__name__}: {exc}", exc)

    entry = "hydra_sweep" if settings.multirun else "hydra_run"
    launch = getattr(hydra_flyte, entry)
    common: dict[str, Any] = {
        "config_path": settings.config_path,
        "config_name": settings.config_name,
        "overrides": overrides,
        "mode": settings.mode,
        "run_options": settings.run_options,
        "task_env_key": settings.task_env_key,
        # The settings this entry point takes; a flag not given (None) leaves core's default.
        **{
            name: value
            for name, value in settings.launch.items()
            if entry in BY_NAME[name].sdk and value is not None
        },
    }
    common["wait"] = settings.wait and not settings.follow
    # hydra_flyte prints the one summary, as `flyte -of` asks (a followed run's comes after its logs).
    common["summary"] = "none" if settings.follow and not settings.dry_run else fp.output_format(ctx)
    # Flyte sets --env variables in a remote run's container but not in a local run; a local run
    # (in this process) gets them in os.environ for its duration instead.
    local_env = settings.run_options.get("env_vars") if settings.mode == "local" else None
    from hydra_flyte.integration import Commands, entry_point_commands, results_on_stdout

    commands = Commands(
        resume=lambda path: resume_command(ctx, path), reattach=lambda path: status_command(ctx, path)
    )
    started = time.monotonic()
    try:
        # stdout carries the results alone: flyte's messages, Hydra's logs and progress go to stderr.
        with results_on_stdout(), _environment(local_env), entry_point_commands(commands):
            results = launch(task, **common, **task_kwargs)
            if settings.follow and not settings.dry_run:
                results = _follow(ctx, results, overrides, started)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    except NoEndpointError as exc:
        _fail(ctx, str(exc), exc)
    except SweepFailedError as exc:  # every job is in the summary hydra_flyte printed
        unconfirmed = [o for o in exc.outcomes if isinstance(o.error, ContactLostError)]
        failed = sum(1 for o in exc.outcomes if o.error is not None) - len(unconfirmed)
        message = f"{failed} of {len(exc.outcomes)} jobs failed."
        if unconfirmed:
            path = next((o.error.manifest_path for o in unconfirmed if o.error.manifest_path), None)
            message = (
                f"{len(unconfirmed)} of {len(exc.outcomes)} jobs unconfirmed (contact with the control plane was "
                f"lost; the runs may well go on), {failed} failed. Reattach with: flyte hydra status "
                f"{path or 'SWEEP'} --wait"
            )
        _fail(ctx, message, exc)
    except ContactLostError as exc:
        _fail(ctx, f"{exc}. Look it up later with `flyte get run {exc.run_name}`.", exc)
    except (RunFailedError, RunNameClashError) as exc:
        _fail(ctx, str(exc), exc)
    except Exception as exc:
        _fail(ctx, f"{type(exc).__name__}: {exc} (rerun as `flyte -v hydra run ...` for the traceback)", exc)
    if settings.dry_run:
        # A sweep's plan was printed by core's launcher, one line per job; a single run's comes back.
        if isinstance(results, DryRunPlan):
            click.echo(results.describe())


def root_options(ctx: click.Context) -> list[str]:
    """The `flyte` options (before `hydra`) this command was started with: `-c CONFIG`, `--endpoint`, ..."""
    from click.core import ParameterSource

    root = ctx.find_root()
    words: list[str] = []
    for param in root.command.params:
        if not isinstance(param, click.Option) or not param.name:
            continue
        if root.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        value = root.params.get(param.name)
        if param.count:
            words += [param.opts[0]] * int(value or 0)
        elif param.is_flag:
            if value:
                words.append(param.opts[0])
            elif param.secondary_opts:
                words.append(param.secondary_opts[0])
        elif isinstance(value, (list, tuple)):
            for item in value:
                words += [param.opts[0], str(item)]
        elif value is not None:
            words += [param.opts[0], str(value)]
    return words


def _run_arguments() -> list[str] | None:
    """What followed `hydra run` on this process's command line (None if it was not run from one)."""
    argv = sys.argv[1:]
    for index in range(len(argv) - 1):
        if argv[index] == "hydra" and argv[index + 1] == "run":
            rest = argv[index + 2 :]
            kept: list[str] = []
            skip = False
            for word in rest:  # an earlier --resume is replaced
                if skip:
                    skip = False
                elif word == "--resume":
                    skip = True
                elif not word.startswith("--resume="):
                    kept.append(word)
            return kept
    return None


def resume_command(ctx: click.Context, sweep: str) -> str:
    """The command that resumes this sweep: the same command plus `--resume SWEEP`."""
    import shlex

    rest = _run_arguments()
    tail = shlex.join(rest) if rest is not None else "<the same arguments>"
    return shlex.join(["flyte", *root_options(ctx), "hydra", "run", "--resume", sweep]) + f" {tail}"


def status_command(ctx: click.Context, sweep: str) -> str:
    """`flyte [root options] hydra status SWEEP --wait`."""
    import shlex

    return shlex.join(["flyte", *root_options(ctx), "hydra", "status", sweep, "--wait"])


def _check_project_and_domain(ctx: click.Context, settings: Settings) -> None:
    """With an endpoint configured, a remote run needs a project and a domain (as `flyte run` checks)."""
    obj = ctx.find_root().obj
    config = getattr(obj, "config", None)
    endpoint = getattr(obj, "endpoint", None) or getattr(getattr(config, "platform", None), "endpoint", None)
    if not endpoint and not os.environ.get("FLYTE_API_KEY"):
        return  # no endpoint at all: hydra_flyte reports that (exit 1)
    task_cfg = getattr(config, "task", None)
    missing = [
        flag
        for key, flag in (("project", "-p/--project"), ("domain", "-d/--domain"))
        if not settings.init_args.get(key) and not getattr(task_cfg, key, None)
    ]
    if missing:
        raise click.UsageError(
            f"a run on {endpoint or 'the Flyte cluster'} needs a project and a domain: pass "
            f"{' and '.join(missing)}, or set task.{'/'.join(m.split('--')[1] for m in missing)} in the Flyte "
            "config file.",
            ctx,
        )


@contextlib.contextmanager
def _environment(variables: dict[str, str] | None) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the previous values."""
    if not variables:
        yield
        return
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _follow(ctx: click.Context, run: Any, overrides: Sequence[str], started: float) -> Any:
    """Stream a submitted run's logs (stderr) until it ends, then print its summary as a waited run's."""
    from hydra_flyte import RunFailedError, RunResult
    from hydra_flyte.integration import is_success, phase_name, print_summary, single_record

    run.show_logs(max_lines=30, show_ts=True, raw=False)
    run.wait(quiet=True)
    seconds = time.monotonic() - started
    fmt = fp.output_format(ctx)
    if not is_success(run.phase):  # an ActionPhase
        error = RunFailedError(
            url=run.url, phase=phase_name(run.phase), message="see the logs above", run=run
        )
        print_summary([single_record(overrides, error=error, duration=seconds)], fmt=fmt, title="Run")
        raise error
    outputs = run.outputs()
    values = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    result = RunResult(values, run=run, url=run.url, name=run.name, overrides=overrides)
    print_summary([single_record(overrides, result=result, duration=seconds)], fmt=fmt, title="Run")
    return result


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


run = RunGroup(
    name="run",
    subcommand_metavar="SCRIPT TASK_NAME [--CONFIG_PARAM OVERRIDE]... [TASK INPUTS]...",
    params=[
        click.Option(
            ["--config-path"],
            type=click.Path(file_okay=False),
            default=None,
            help="Directory of the YAML configs, relative to the current directory or absolute. "
            "Omit it for configs registered only in Hydra's ConfigStore.",
        ),
        click.Option(
            ["--config-name"],
            default=None,
            shell_complete=_complete_config_name,
            help="Name of the primary config (a YAML file in --config-path without `.yaml`, or a "
            "ConfigStore entry).",
        ),
        click.Option(
            ["--multirun", "-m"],
            is_flag=True,
            default=False,
            help="Sweep: expand sweep overrides (`a=1,2`, or a sweeper such as Optuna) into one run per job.",
        ),
        click.Option(
            ["--mode"],
            type=click.Choice(["local", "remote"]),
            default=None,
            help="Where to run. Remote (the default) needs a configured Flyte endpoint; `--local` is "
            "short for `--mode local`.",
        ),
        click.Option(
            ["--task-env-key"],
            default="task_env",
            show_default=True,
            help="Config key holding per-task overrides (resources, image), `task_env.<task name>`.",
        ),
        *_setting_options(),
        _hydra_override_option(),
        *fp.run_options(),
    ],
    help="""
Run a Flyte task with a Hydra-composed config: once, or once per job of a sweep.

```bash
flyte hydra run --local --config-path conf --config-name training \\
    train.py pipeline --dataset digits --cfg optimizer.lr=0.01
```

App overrides go through the flag named after the task's `DictConfig` parameter (`--cfg` for
`cfg: DictConfig`, `--config` for `config: DictConfig`); Hydra's own overrides through
`--hydra-override`. Other task inputs are options, converted as `flyte run` converts them.

Runs are remote unless `--local`. Remote runs print their URL as soon as they are submitted,
then (unless `--no-wait`) their values. Local runs print their values: one line per job for
`--multirun`. A remote sweep keeps a manifest (`flyte-sweep.json` in its sweep directory) for
`flyte hydra status` and `flyte hydra rerun`. `--dry-run` prints what would run and runs nothing.

Exit status: 0 when every job succeeded, 1 when one failed, 2 for usage errors (and for a job
that does not compose), 130 on Ctrl-C.
""",
)
