"""Every private symbol of the flyte SDK this package uses, and nothing else.

`flyte hydra run` must accept exactly the options `flyte run` accepts and convert task inputs
the way `flyte run` does. flyte exposes neither publicly, so they are borrowed here, in one
place, from flyte 2.12 (the pyproject pins `flyte>=2.12.1,<2.13`). `tests/test_flyte_private.py`
fails loudly when any of them moves or changes shape; on a flyte upgrade, fix this module first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rich_click as click
from flyte._internal.runtime.types_serde import transform_native_to_typed_interface
from flyte.cli._common import CLIConfig, initialize_config
from flyte.cli._params import to_click_option
from flyte.cli._run import RunArguments, _resolve_default_val

if TYPE_CHECKING:
    from flyte import TaskTemplate

__all__ = [
    "CLIConfig",
    "RunArguments",
    "initialize_config",
    "run_options",
    "task_input_options",
]


def run_options() -> list[click.Option]:
    """The options `flyte run` takes before the file name (`--project`, `--local`, `--name`, ...)."""
    return RunArguments.options()


def run_option_names() -> list[str]:
    """The parameter names of those options, as click stores them in `ctx.params`."""
    return [opt.name for opt in run_options() if opt.name]


def task_input_options(task: TaskTemplate, *, skip: str) -> list[click.Option]:
    """One click option per task input except `skip`, typed and converted exactly as `flyte run` does."""
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
        default = _resolve_default_val(task.native_interface, name, default_marker, python_type)
        options.append(to_click_option(name, variable, python_type, default))
    return options


def with_run_args(cli_config: Any, params: dict[str, Any], ctx: click.Context) -> Any:
    """The CLI state with `flyte run`'s RunArguments attached, as flyte's input converters expect."""
    run_args = RunArguments.from_dict(params)
    if cli_config is None:
        import flyte.config

        return CLIConfig(config=flyte.config.auto(), ctx=ctx, run_args=run_args)
    return cli_config.replace(run_args=run_args)
