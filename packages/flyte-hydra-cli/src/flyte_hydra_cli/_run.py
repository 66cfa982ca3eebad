"""`flyte hydra run [OPTIONS] SCRIPT TASK_NAME [--cfg OVERRIDE ...] [TASK INPUTS]`.

Three nested click levels, the shape `flyte run` uses:

* `run` (`RunGroup`) holds the Hydra options and every option of `flyte run`; its
  subcommands are Python files.
* `SCRIPT` (`ScriptGroup`) imports the file; its subcommands are the tasks defined there.
* `TASK_NAME` (`TaskCommand`) has one option per task input (converted by Flyte, as in
  `flyte run`) plus the override flag named after the task's `DictConfig` parameter.

hydra_flyte (and so Hydra) is imported only when a command runs or completes. This module holds
the three levels; the rest of the command lives beside it, one responsibility a module:

* `_run_settings`: the `run` level's options checked against each other, into `Settings`;
* `_run_execute`: the task level's work (initialise Flyte, run or sweep through hydra_flyte);
* `_run_follow`: `--follow` (a remote run's logs, then its summary);
* `_run_output`: errors and exit statuses, and the resume / reattach commands printed;
* `_run_completion`: shell completion of overrides and config names;
* `_run_option_handling`: where each `flyte run` option goes.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import rich_click as click
from click.shell_completion import CompletionItem

from . import _flyte_private as fp
from ._completion import is_hydra_override
from ._run_completion import (
    _bash_split_override,
    _complete_app_override,
    _complete_config_name,
    _complete_hydra_override,
    _run_ctx,
)
from ._run_execute import _execute
from ._run_option_handling import as_forwarded
from ._run_output import _fail
from ._run_settings import _APP_OVERRIDES, _HYDRA_OVERRIDES, _SETTINGS, Settings, _setting_options, _settings
from ._script import ScriptError, load_script, tasks_in


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
            # No TASK_NAME: not the help on stdout, but a usage error naming the tasks (`_require_task`).
            invoke_without_command=True,
            no_args_is_help=False,
            callback=self._require_task,
        )
        self.script = script
        self._tasks: dict[str, Any] | None = None

    def _require_task(self, **_: Any) -> None:
        """Runs before the task's command, or alone when TASK_NAME is missing: then a usage error."""
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None or ctx.resilient_parsing:
            return
        tasks = self.list_commands(ctx)
        known = ", ".join(tasks) or "none (decorate a function taking a DictConfig with @env.task)"
        raise click.UsageError(
            f"Missing argument 'TASK_NAME'. Tasks in {self.script} that take a DictConfig: {known}. "
            f"Name one after the script, e.g. `flyte hydra run {self.script} {tasks[0] if tasks else 'TASK_NAME'}`.",
            ctx,
        )

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


def _require_script(**_: Any) -> None:
    """`run`'s callback: runs before the script's group, or alone when SCRIPT is missing: then a usage error."""
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is not None or ctx.resilient_parsing:
        return
    raise click.UsageError(
        "Missing argument 'SCRIPT': the Python file that defines the task, then the task's name, e.g. "
        "`flyte hydra run train.py pipeline` (`flyte hydra run --help` lists the options).",
        ctx,
    )


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


#: The option panels of `flyte hydra run --help` (rich-click's option groups; `--help` comes last).
_OPTION_PANELS = [
    {"name": "Hydra", "options": ["--config-path", "--config-name", "--multirun", "--hydra-override", "--task-env-key"]},
    {"name": "Where and how it runs",
     "options": ["--mode", "--local", "--wait", "--follow", "--dry-run", "--tracked", "--tracked-strict"]},
    {"name": "Sweeps and waiting",
     "options": ["--submit-max-workers", "--wait-max-workers", "--fail-fast", "--abort-on-interrupt", "--resume",
                 "--reconnect-timeout", "--report"]},
    {"name": "flyte run options, forwarded to every run",
     "options": ["--project", "--domain", "--name", "--env", "--label", "--queue", "--service-account",
                 "--max-action-concurrency", "--raw-data-path", "--version", "--copy-style", "--image", "--root-dir",
                 "--no-sync-local-sys-paths", "--debug"]},
]  # fmt: skip

run = RunGroup(
    name="run",
    subcommand_metavar="SCRIPT TASK_NAME [--CONFIG_PARAM OVERRIDE]... [TASK INPUTS]...",
    # No SCRIPT: not the help on stdout, but a usage error on stderr (`_require_script`).
    invoke_without_command=True,
    no_args_is_help=False,
    callback=_require_script,
    context_settings={"rich_help_config": {"option_groups": {"*hydra run": _OPTION_PANELS}}},
    params=[
        click.Option(
            ["--config-path"],
            type=click.Path(file_okay=False),
            default=None,
            metavar="DIR",
            help="Directory of the YAML configs (relative or absolute); omit it for ConfigStore-only configs.",
        ),
        click.Option(
            ["--config-name"],
            default=None,
            metavar="NAME",
            shell_complete=_complete_config_name,
            help="Primary config: a YAML file of --config-path (without .yaml), or a ConfigStore entry.",
        ),
        click.Option(
            ["--multirun", "-m"],
            is_flag=True,
            default=False,
            help="Sweep: one run per job (`a=1,2`, or a sweeper such as Optuna).",
        ),
        click.Option(
            ["--mode"],
            type=click.Choice(["local", "remote"]),
            default=None,
            help="remote (the default; needs a Flyte endpoint) or local.",
        ),
        click.Option(
            ["--task-env-key"],
            default="task_env",
            metavar="KEY",
            show_default=True,
            help="Config key of the per-task settings (resources, image, ...).",
        ),
        *_setting_options(),
        _hydra_override_option(),
        *as_forwarded(fp.run_options()),
    ],
    help="""
Run a Flyte task with a Hydra-composed config: once, or once per job of a sweep.

```bash
flyte hydra run --local --config-path conf --config-name training \\
    train.py pipeline --dataset digits --cfg optimizer.lr=0.01
```

App overrides go through the flag named after the task's `DictConfig` parameter (`--cfg` for
`cfg: DictConfig`), Hydra's own through `--hydra-override`. The task's other inputs are options:
`flyte hydra run SCRIPT TASK_NAME --help` lists them.

Runs are remote unless `--local`. When the run or sweep ends, stdout gets one summary table of its
jobs, local or remote (`flyte -of json hydra run ...`: one JSON document); progress, logs and each
remote run's URL go to stderr. A sweep keeps a manifest (`flyte-sweep.json`) for `flyte hydra
status`, `rerun` and `report`.

`flyte run`'s options are forwarded to every run, except `--tui`, `--run-project` and
`--run-domain` (refused: they apply to one plain task or to `flyte run deployed-task`).

Exit status: 0 when every job succeeded, 1 when one failed, 2 for usage errors (and for a job
that does not compose), 130 on Ctrl-C.
""",
)
