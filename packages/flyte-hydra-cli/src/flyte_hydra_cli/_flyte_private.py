"""Every private symbol of the flyte SDK this package uses, and nothing else.

`flyte hydra run` accepts the options `flyte run` accepts and converts task inputs the way
`flyte run` does. flyte exposes neither publicly, so they are borrowed here, in one place, when
the installed flyte has them as expected (checked at first use, never at import: `flyte hydra
--help` works whatever flyte moved). When a release moved or reshaped one, the public path is
taken after one warning naming the symbol and the flyte version:

- `flyte.cli._run.RunArguments.options()` (the `flyte run` options) -> our own copy of those
  options (same flags, names and defaults), used also when flyte's list differs from the one
  `_run_option_handling.RUN_OPTION_HANDLING` places, so a new flyte option is never accepted and dropped.
- `flyte.cli._params.to_click_option`, `flyte.cli._run._resolve_default_val`,
  `flyte._internal.runtime.types_serde.transform_native_to_typed_interface` (task inputs as
  typed options) -> options built from the task's `native_interface`: str, int, float and bool
  as such, anything else as JSON.
- `flyte.cli._common.initialize_config` (flyte's `-c/--config`, `--endpoint`, ... from the top
  level) -> `flyte.init_from_config` with the config flyte's CLI loaded.

`tests/test_flyte_private.py` fails loudly when any of them moves or changes shape, and runs
each fallback on purpose.
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Any

import rich_click as click

from hydra_flyte.integration import Private, expect

if TYPE_CHECKING:
    from flyte import TaskTemplate

__all__ = ["initialize_config", "output_format", "run_options", "task_input_options"]

#: The values of flyte's root option `-of/--output-format` (flyte.cli._common.OutputFormat).
OUTPUT_FORMATS = ("table", "table-simple", "json", "json-raw")


def _flyte_run_options() -> Any:
    from flyte.cli._run import RunArguments

    from ._run_option_handling import RUN_OPTION_HANDLING

    options = RunArguments.options()
    expect(all(isinstance(o, click.Option) for o in options), "RunArguments.options() returns non-options")
    names = sorted(o.name for o in options if o.name)
    expect(names == sorted(RUN_OPTION_HANDLING), f"`flyte run` options are {names}, not the ones placed")
    return RunArguments


def _input_converters() -> tuple[Any, Any, Any]:
    from flyte._internal.runtime.types_serde import transform_native_to_typed_interface
    from flyte.cli._params import to_click_option
    from flyte.cli._run import _resolve_default_val

    params = list(inspect.signature(to_click_option).parameters)
    expect(params == ["input_name", "literal_var", "python_type", "default_val"], f"to_click_option{params}")
    params = list(inspect.signature(_resolve_default_val).parameters)
    expect(params == ["interface", "name", "default_marker", "python_type"], f"_resolve_default_val{params}")
    expect(callable(transform_native_to_typed_interface), "transform_native_to_typed_interface")
    return transform_native_to_typed_interface, to_click_option, _resolve_default_val


def _initialize_config() -> Any:
    from flyte.cli._common import initialize_config

    params = list(inspect.signature(initialize_config).parameters)
    expect(
        params[:6] == ["ctx", "project", "domain", "root_dir", "images", "sync_local_sys_paths"],
        f"initialize_config{params}",
    )
    return initialize_config


RUN_OPTIONS = Private(
    "flyte.cli._run.RunArguments.options", "flyte", _flyte_run_options,
    fallback="`flyte hydra run` offers its own copy of the `flyte run` options",
)  # fmt: skip
INPUT_CONVERTERS = Private(
    "flyte.cli._params.to_click_option, flyte.cli._run._resolve_default_val, "
    "flyte._internal.runtime.types_serde.transform_native_to_typed_interface",
    "flyte",
    _input_converters,
    fallback="task inputs are read as str/int/float/bool, anything else as JSON",
)
INITIALIZE_CONFIG = Private(
    "flyte.cli._common.initialize_config", "flyte", _initialize_config,
    fallback="Flyte is initialised with flyte.init_from_config",
)  # fmt: skip


def run_options() -> list[click.Option]:
    """The options `flyte run` takes before the file name (`--project`, `--local`, `--name`, ...)."""
    run_arguments = RUN_OPTIONS.get()
    if run_arguments is None:
        return public_run_options()
    return run_arguments.options()


def run_option_names() -> list[str]:
    """The parameter names of those options, as click stores them in `ctx.params`."""
    return [opt.name for opt in run_options() if opt.name]


def public_run_options() -> list[click.Option]:
    """Our own copy of the `flyte run` options (flyte 2.9 to 2.12): the same flags, names and defaults."""
    text = {"type": str, "default": None}
    flag = {"is_flag": True, "default": False}
    pairs = {"multiple": True, "default": ()}
    return [
        click.Option(["-p", "--project"], **text, help="Project to which this command applies."),
        click.Option(["-d", "--domain"], **text, help="Domain to which this command applies."),
        click.Option(["--local"], **flag, help="Run the task locally."),
        click.Option(
            ["--copy-style"],
            type=click.Choice(["loaded_modules", "all", "none", "custom"]),
            default="loaded_modules",
            help="Copy style to use when running the task.",
        ),
        click.Option(
            ["--version"], **text, help="Version to use for the run (default: from the code bundle)."
        ),
        click.Option(["--root-dir"], **text, help="Override the root source directory."),
        click.Option(
            ["--raw-data-path"], **text, help="Override the output prefix used to store offloaded data."
        ),
        click.Option(["--service-account"], **text, help="Kubernetes service account."),
        click.Option(["--name"], **text, help="Name of the run (default: a random name)."),
        click.Option(["--follow", "-f"], **flag, help="Wait and watch logs for the parent action."),
        click.Option(["--tui"], **flag, help="Interactive TUI for local execution (not supported here)."),
        click.Option(
            ["--tracked"], **flag, help="Run locally while reporting run state to the control plane."
        ),
        click.Option(
            ["--tracked-strict"], **flag, help="Strict tracked-run reporting (only with --tracked)."
        ),
        click.Option(["--image"], type=str, **pairs, help="Image to use, imagename=imageuri. Repeatable."),
        click.Option(
            ["--no-sync-local-sys-paths"], **flag, help="Do not sync local sys.path entries remotely."
        ),
        click.Option(["--run-project"], **text, help="For deployed tasks only (not supported here)."),
        click.Option(["--run-domain"], **text, help="For deployed tasks only (not supported here)."),
        click.Option(["--debug"], **flag, help="Run the task as a VSCode debug task."),
        click.Option(["--env", "-e"], type=str, **pairs, help="Environment variable KEY=VALUE. Repeatable."),
        click.Option(
            ["--max-action-concurrency"],
            type=click.IntRange(min=0),
            default=None,
            help="Maximum number of actions that can run concurrently within the run.",
        ),  # fmt: skip
        click.Option(
            ["--label"], type=str, **pairs, help="Label KEY=VALUE to attach to the run. Repeatable."
        ),
        click.Option(["--queue"], **text, help="Queue (cluster) to send the run to."),
    ]


def task_input_options(task: TaskTemplate, *, skip: str) -> list[click.Option]:
    """One click option per task input except `skip`, typed and converted exactly as `flyte run` does."""
    converters = INPUT_CONVERTERS.get()
    if converters is None:
        return public_task_input_options(task, skip=skip)
    transform_native_to_typed_interface, to_click_option, resolve_default_val = converters
    interface = transform_native_to_typed_interface(task.native_interface)
    if interface is None:
        return []
    inputs = task.native_interface.inputs
    options: list[click.Option] = []
    for entry in interface.inputs.variables:
        name, variable = entry.key, entry.value
        if name == skip:
            continue
        python_type, default_marker = inputs[name]
        default = resolve_default_val(task.native_interface, name, default_marker, python_type)
        options.append(to_click_option(name, variable, python_type, default))
    return options


class _Json(click.ParamType):
    name = "json"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            self.fail(
                f"{value!r} is not JSON ({exc}): write it as JSON, e.g. '[1, 2]' or '{{\"a\": 1}}'.",
                param,
                ctx,
            )


_SCALARS = {str: click.STRING, int: click.INT, float: click.FLOAT, bool: click.BOOL}


def public_task_input_options(task: Any, *, skip: str) -> list[click.Option]:
    """Task inputs as options from the task's public `native_interface`: scalars typed, the rest JSON."""
    options: list[click.Option] = []
    for name, (python_type, default) in task.native_interface.inputs.items():
        if name == skip:
            continue
        required = default is inspect.Parameter.empty
        options.append(
            click.Option(
                [f"--{name}"],
                type=_SCALARS.get(python_type, _Json()),
                required=required,
                default=None if required else default,
                show_default=not required,
                help=f"Task input `{name}` ({getattr(python_type, '__name__', python_type)}).",
            )
        )
    return options


def initialize_config(
    ctx: click.Context,
    project: str | None,
    domain: str | None,
    root_dir: str | None = None,
    images: tuple[str, ...] | None = None,
    sync_local_sys_paths: bool = True,
) -> Any:
    """Initialise Flyte as `flyte run` does: the top-level `flyte` options and config file, then this project and domain."""
    initialize = INITIALIZE_CONFIG.get()
    if initialize is not None:
        return initialize(ctx, project, domain, root_dir, images, sync_local_sys_paths)
    import pathlib

    import flyte
    import flyte.config

    state = ctx.find_root().obj
    config = getattr(state, "config", None)
    flyte.init_from_config(
        config if isinstance(config, flyte.config.Config) else None,
        project=project,
        domain=domain,
        root_dir=pathlib.Path(root_dir).resolve() if root_dir else None,
        images=images,
        sync_local_sys_paths=sync_local_sys_paths,
    )
    return state


def output_format(ctx: click.Context) -> str:
    """What `flyte -of/--output-format FORMAT` asked for: table (the default), table-simple, json or json-raw.

    Read from the root command's own parameter (click's public `Context.params`), then from the
    CLI state flyte hands its subcommands (`ctx.obj.output_format`); 'table' when neither says.
    """
    root = ctx.find_root()
    value = root.params.get("output_format")
    if value is None:
        value = getattr(root.obj, "output_format", None)
    value = str(value or "table").lower()
    return value if value in OUTPUT_FORMATS else "table"
