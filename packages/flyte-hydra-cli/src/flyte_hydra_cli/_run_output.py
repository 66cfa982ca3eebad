"""How `flyte hydra` ends and what it tells you to type next: one-paragraph errors (exit 1,
the traceback with `flyte -v`), and the commands that resume or reattach to a sweep.
"""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

import rich_click as click


def _verbose(ctx: click.Context) -> bool:
    """True when `flyte -v ...` asked for verbose output (and so for tracebacks)."""
    obj = ctx.find_root().obj
    return getattr(obj, "log_level", None) is not None


def _fail(ctx: click.Context, message: str, exc: BaseException | None = None) -> NoReturn:
    """Exit 1 with a one-paragraph message; the traceback too when -v was given."""
    if exc is not None and _verbose(ctx):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    raise click.ClickException(message)


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
