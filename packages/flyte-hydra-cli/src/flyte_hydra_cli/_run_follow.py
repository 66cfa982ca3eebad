"""`--follow`: stream a submitted run's logs (stderr) until it ends, then print its summary."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import rich_click as click

from . import _flyte_private as fp


def _follow(
    ctx: click.Context, run: Any, overrides: Sequence[str], started: float, header: dict[str, Any]
) -> Any:
    """Stream a submitted run's logs (stderr) until it ends, then print its summary as a waited run's.

    `header`: the run's header of the JSON summary (`run_header`).
    """
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
        record = single_record(overrides, error=error, duration=seconds)
        print_summary([record], fmt=fmt, title="Run", header=header)
        raise error
    outputs = run.outputs()
    values = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    result = RunResult(values, run=run, url=run.url, name=run.name, overrides=overrides)
    record = single_record(overrides, result=result, duration=seconds)
    print_summary([record], fmt=fmt, title="Run", header=header)
    return result
