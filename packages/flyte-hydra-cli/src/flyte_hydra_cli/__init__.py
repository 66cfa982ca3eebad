"""`flyte hydra`: the Flyte CLI extension of hydra-flyte.

Installing this package adds `flyte hydra run`, which imports a task from a Python file,
composes a Hydra config for it (no `@hydra.main` needed) and runs it, locally or remotely:

    flyte hydra run --local --config-path conf --config-name training \\
        train.py pipeline --dataset digits --cfg optimizer.lr=0.01

`flyte hydra status SWEEP` and `flyte hydra rerun SWEEP --failed` reattach to a remote sweep
through the manifest it left in its sweep directory, and `flyte hydra abort SWEEP` aborts its
unfinished runs; `flyte hydra report SWEEP` writes the HTML report of a local or remote sweep.

This module is what the `flyte.plugins.cli.commands` entry point loads, and every `flyte`
command (even `flyte --help`) loads it. It therefore imports nothing but click: the real
command, Hydra, hydra_flyte and the user's script are imported only when `flyte hydra ...` runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import rich_click as click

__all__ = ["hydra"]

#: Where each subcommand of `flyte hydra` lives, as "module:attribute", imported on first use.
_SUBCOMMANDS: Mapping[str, str] = {
    "run": "flyte_hydra_cli._run:run",
    "status": "flyte_hydra_cli._sweeps:status",
    "rerun": "flyte_hydra_cli._sweeps:rerun",
    "abort": "flyte_hydra_cli._sweeps:abort",
    "report": "flyte_hydra_cli._report:report",
}

#: Exit status after Ctrl-C, as a shell reports a process killed by SIGINT.
EXIT_INTERRUPTED = 130


def _explained_by_core(interrupt: BaseException) -> bool:
    """True for a Ctrl-C that hydra_flyte has already reported (what happened, the manifest, how to reattach).

    Core marks such an interrupt with `manifest_path` and `aborted` before re-raising it.
    """
    return hasattr(interrupt, "manifest_path")


class _LazyGroup(click.RichGroup):
    """A click group that imports each subcommand only when click asks for it."""

    def __init__(self, *args: object, lazy_subcommands: Mapping[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy_subcommands = dict(lazy_subcommands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self._lazy_subcommands:
            module_name, attribute = self._lazy_subcommands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, name=cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Ctrl-C in any subcommand: exit 130 with one line (or none, when core already explained)."""
        from hydra_flyte.integration import warn_if_other_plugin_installed

        warn_if_other_plugin_installed()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            if not _explained_by_core(exc):
                click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(
    cls=_LazyGroup,
    lazy_subcommands=_SUBCOMMANDS,
    short_help="Compose Hydra configs and run Flyte tasks with them.",
)
def hydra() -> None:
    """
    Compose a Hydra config and run a Flyte task with it: one run, or one run per job of a sweep.

    The task needs an `omegaconf.DictConfig` parameter; the script needs no `@hydra.main`.
    `status` and `rerun` reattach to a remote sweep through its manifest, `abort` aborts its
    unfinished runs; `report` writes a sweep's HTML report (table and plots) beside it.

    ```bash
    flyte hydra run --local --config-path conf --config-name training \\
        train.py pipeline --dataset digits --cfg optimizer.lr=0.01
    ```
    """
