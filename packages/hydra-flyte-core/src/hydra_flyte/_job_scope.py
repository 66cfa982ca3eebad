"""The scope of one launcher job: which job is running, and where the script's `flyte.run` goes.

Inside a job, `flyte.run` is routed to the job's mode (local or remote) with the launcher's run
options, so the guide's `return flyte.run(entry_task, cfg=cfg, ...)` honours
`hydra.launcher.mode`. Outside a job nothing is changed.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from ._submit import JobSpec, submit

_current_job: contextvars.ContextVar[JobSpec | None] = contextvars.ContextVar("hydra_flyte_job", default=None)


def current_job() -> JobSpec | None:
    """The job being launched in this context, if any."""
    return _current_job.get()


class _RoutedRun:
    """Stands in for `flyte.run` during a job: runs the task in the job's mode with its options."""

    def __init__(self, job: JobSpec, original: Any) -> None:
        self._job = job
        self._original = original

    def __call__(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        return submit(task, args, kwargs, self._job)

    def aio(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return asyncio.to_thread(submit, task, args, kwargs, self._job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


@contextlib.contextmanager
def job_scope(job: JobSpec) -> Iterator[None]:
    """Run the body as `job`: `current_job()` returns it and `flyte.run` follows its mode."""
    import flyte

    token = _current_job.set(job)
    original = flyte.run
    flyte.run = _RoutedRun(job, original)  # type: ignore[assignment]
    try:
        yield
    finally:
        flyte.run = original  # type: ignore[assignment]
        _current_job.reset(token)
