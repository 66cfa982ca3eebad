"""Where a launch's output goes: its results on stdout, everything else (progress, logs, flyte's messages) on stderr.

`results_on_stdout` sends what a block prints to stderr while keeping the real stdout for the
results (the summary, a dry run's plans), so `... > results.txt` captures the results alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

_results: contextvars.ContextVar[TextIO | None] = contextvars.ContextVar("hydra_flyte_results", default=None)


def results_stream() -> TextIO:
    """Where results go: the stdout of the outermost `results_on_stdout` block, else sys.stdout."""
    return _results.get() or sys.stdout


def print_plans(plans: Iterable[Any]) -> None:
    """A dry run's result: each job's plan (what would run, under which name, with which task_env), a line each, on stdout.

    Never a summary row: nothing ran, so nothing SUCCEEDED.
    """
    out = results_stream()
    for plan in plans:
        print(plan.describe(), file=out, flush=True)


@contextlib.contextmanager
def results_on_stdout() -> Iterator[TextIO]:
    """Inside the block, `print` and logging handlers bound to stdout write to stderr instead.

    Yields the stdout that results keep (also `results_stream()` inside the block). Nested
    blocks keep the outermost one's. Handlers already pointing at stdout (Hydra's default
    `console` handlers) are pointed at stderr for good.
    """
    outer = _results.get()
    if outer is not None:
        yield outer
        return
    real = sys.stdout
    token = _results.set(real)
    logging_to_stderr(real)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield real
    finally:
        _results.reset(token)


def logging_to_stderr(stdout: TextIO | None = None) -> None:
    """Logging stream handlers writing to `stdout` (default: sys.stdout) write to stderr from now on."""
    stdout = stdout or sys.stdout
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler, logging.StreamHandler):
                continue
            if handler.stream in (stdout, sys.__stdout__):
                handler.setStream(sys.stderr)
            _colour_only_on_a_terminal(handler)


def _colour_only_on_a_terminal(handler: logging.StreamHandler) -> None:  # type: ignore[type-arg]
    """A colouring formatter never told its stream (Optuna's colorlog one) checks the handler's, as
    colorlog does when given one: no escape codes in a redirected stderr."""
    formatter = handler.formatter
    if (
        formatter is not None
        and hasattr(formatter, "no_color")
        and getattr(formatter, "stream", False) is None
    ):
        formatter.stream = handler.stream  # type: ignore[attr-defined]
