"""A local sweep's job as FlyteLauncher runs it: recorded in the sweep manifest around its run on this machine."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn, JobStatus, configure_log
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.remote.submit import JobSpec

if TYPE_CHECKING:
    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.state.manifest import Manifest


def run_local_job(
    launch: Launch, sweep_config: DictConfig, overrides: Sequence[str], idx: int
) -> tuple[JobReturn, JobSpec, DictConfig]:
    """Record the job RUNNING, run its task function here, then record its duration (and a failure).

    Local jobs get no run name, labels or URL: nothing of them is looked up on a control plane later.
    """
    from hydra_flyte.compose.run_job import run_sweep_job
    from hydra_flyte.engine.job_scope import job_scope
    from hydra_flyte.state.phases import FAILED, RUNNING

    manifest = launch.manifest
    assert manifest is not None
    if idx not in manifest.jobs:
        manifest.plan([(idx, tuple(overrides), None)])
    manifest.finished(idx, phase=RUNNING)
    job = JobSpec(settings=launch.settings, job_num=idx, overrides=tuple(overrides))
    started = time.monotonic()
    with job_scope(job):
        ret = run_sweep_job(
            hydra_context=launch.hydra_context, task_function=launch.task_function, config=sweep_config
        )
    manifest.timed(idx, time.monotonic() - started)
    if ret.status is JobStatus.FAILED:
        error = job_value(ret)
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        manifest.finished(idx, phase=FAILED, error=str(message))
    else:  # on disk now, not only when the whole launch has run (the launch records it again, the same)
        _record_value(manifest, idx, ret, job)
    configure_log(launch.config.hydra.hydra_logging, launch.config.hydra.verbose)
    return ret, job, sweep_config


def _record_value(manifest: Manifest, idx: int, ret: JobReturn, job: JobSpec) -> None:
    """A finished local job's value, SUCCEEDED (a local flyte run's outputs, or what the function returned)."""
    from hydra_flyte.remote.submit import finish
    from hydra_flyte.results import RunResult
    from hydra_flyte.state.phases import SUCCEEDED

    try:
        outcome = finish(job_value(ret), job)
    except Exception:  # left to the launch's own conversion, which records what it finds
        return
    manifest.finished(
        idx, phase=SUCCEEDED, value=outcome.value if isinstance(outcome, RunResult) else outcome
    )


def record_interrupt(manifest: Manifest) -> None:
    """Ctrl-C in a local sweep: the job it stopped is ABORTED, the jobs not started NOT_SUBMITTED."""
    from hydra_flyte.state.phases import ABORTED, NOT_SUBMITTED, PLANNED, RUNNING

    for record in manifest.records():
        if record.phase == RUNNING:
            manifest.finished(record.job, phase=ABORTED, error="interrupted (Ctrl-C) while it ran")
        elif record.phase == PLANNED:
            manifest.finished(
                record.job, phase=NOT_SUBMITTED, error="not run: the sweep was interrupted (Ctrl-C)"
            )
    manifest.mark_interrupted()
