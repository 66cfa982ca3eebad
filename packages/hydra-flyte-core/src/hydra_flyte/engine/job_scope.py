"""The scope of one launcher job: which job is running, and where the script's `flyte.run` goes.

Inside a job, `flyte.run` is routed to the job's mode (local or remote) with the launcher's run
options, so the guide's `return flyte.run(entry_task, cfg=cfg, ...)` honours
`hydra.launcher.mode`. Outside a job nothing is changed.

`run` is the explicit form of the same thing, for scripts that prefer not to rely on the
routing (or that imported `run` from flyte before the job started)::

    import hydra_flyte

    @hydra.main(version_base=None, config_path="conf", config_name="training")
    def main(cfg):
        return hydra_flyte.run(pipeline, cfg=cfg, dataset=cfg.data.dataset)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from hydra_flyte.remote.submit import JobSpec, submit

_current_job: contextvars.ContextVar[JobSpec | None] = contextvars.ContextVar("hydra_flyte_job", default=None)
_started: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "hydra_flyte_started", default=None
)


class _WithoutRunIds(logging.Filter):
    """Drops the run and action ids flyte stamps on the log records of a local run in this process.

    A script's `flyte.init_from_config()` inside a Hydra job makes flyte wrap the formatters of the
    root handlers Hydra set up, prefixing each task log line with `[run][action]`; the CLI and the
    SDK configure logging after flyte and print Hydra's format alone. One format everywhere: these
    lines are this job's (the summary names the run).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_name", None) is not None:
            record.run_name = None
            record.action_name = None
        return True


_WITHOUT_RUN_IDS = _WithoutRunIds()


@contextlib.contextmanager
def _task_logs_in_hydras_format() -> Iterator[None]:
    """Task log lines through the root handlers (Hydra's) keep Hydra's format while a job runs locally."""
    handlers = [h for h in logging.getLogger().handlers if _WITHOUT_RUN_IDS not in h.filters]
    for handler in handlers:
        handler.addFilter(_WITHOUT_RUN_IDS)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(_WITHOUT_RUN_IDS)


def current_job() -> JobSpec | None:
    """The job being launched in this context, if any."""
    return _current_job.get()


def _submit_in_job(task: Any, args: Any, kwargs: Any, job: JobSpec) -> Any:
    """Submit for `job` and remember the run among those the job's scope started.

    The task's inputs other than configs are checked by Flyte's type engine first, so a wrong
    type is one of our errors (nothing submitted, the input named) rather than the SDK's.
    """
    kwargs = _checked_inputs(task, kwargs)
    started = _started.get()
    if started:  # a later flyte.run of the same job: its own run name, not the job's manifest record
        import dataclasses

        job = dataclasses.replace(
            job, call=len(started) + 1, on_submitted=None, planned_name=None, existing=None
        )
    if job.settings.mode == "local":
        with _task_logs_in_hydras_format():
            value = submit(task, args, kwargs, job)
    else:
        value = submit(task, args, kwargs, job)
    if started is not None:
        started.append(value)
    return value


def _checked_inputs(task: Any, kwargs: Any) -> Any:
    from omegaconf import DictConfig

    from hydra_flyte.config.tasks import task_inputs_for
    from hydra_flyte.config.validation import check_task_inputs

    kwargs = task_inputs_for(task, kwargs)  # a reference to a deployed task: its config as it reads it
    inputs = getattr(getattr(task, "native_interface", None), "inputs", None)
    if not inputs:
        return kwargs
    plain = {k: v for k, v in kwargs.items() if k in inputs and not isinstance(v, DictConfig)}
    if not plain:
        return kwargs
    return {**kwargs, **check_task_inputs(task, plain)}


class _RoutedRun:
    """Stands in for `flyte.run` during a job: runs the task in the job's mode with its options."""

    def __init__(self, job: JobSpec, original: Any) -> None:
        self._job = job
        self._original = original

    def __call__(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        return _submit_in_job(task, args, kwargs, self._job)

    def aio(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        return asyncio.to_thread(_submit_in_job, task, args, kwargs, self._job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def run(task: Any, *args: Any, **kwargs: Any) -> Any:
    """Run `task` as the current launcher job does (its mode, run options), or as `flyte.run` outside a job.

    Inside a job of `hydra/launcher=flyte` (a sweep job or a single run) it returns what the
    routed `flyte.run` returns: flyte's Run, which the launcher turns into a `RunResult` (or
    keeps, with `wait=false`) after the job. Outside a job it is plain `flyte.run`.
    """
    job = _current_job.get()
    if job is not None:
        return _submit_in_job(task, args, kwargs, job)
    import flyte

    return flyte.run(task, *args, **kwargs)  # outside any job, or a job whose settings are invalid


class _FailingRun:
    """Stands in for `flyte.run` when the job's launcher settings are invalid: raises their error."""

    def __init__(self, error: BaseException, original: Any) -> None:
        self._error = error
        self._original = original

    def __call__(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        raise self._error

    async def aio(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


@contextlib.contextmanager
def failing_scope(error: BaseException) -> Iterator[None]:
    """Run the body with `flyte.run` raising `error` (a launcher setting that cannot be honoured)."""
    import flyte

    original = flyte.run
    flyte.run = _FailingRun(error, original)  # type: ignore[assignment]
    try:
        yield
    finally:
        flyte.run = original  # type: ignore[assignment]


@contextlib.contextmanager
def job_scope(job: JobSpec) -> Iterator[list[Any]]:
    """Run the body as `job`: `current_job()` returns it and `flyte.run` follows its mode.

    Yields the list of runs started through the routed `flyte.run` (or `run`) in the body.
    """
    import flyte

    started: list[Any] = []
    token = _current_job.set(job)
    started_token = _started.set(started)
    original = flyte.run
    flyte.run = _RoutedRun(job, original)  # type: ignore[assignment]
    try:
        yield started
    finally:
        flyte.run = original  # type: ignore[assignment]
        _started.reset(started_token)
        _current_job.reset(token)
