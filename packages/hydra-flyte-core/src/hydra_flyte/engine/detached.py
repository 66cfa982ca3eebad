"""How a detached batch ends: its one driver run created, then (when waiting) followed to its end and every job's outcome handed to Hydra."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from hydra_flyte.engine.outcomes import record_outcome
from hydra_flyte.remote.submit import JobSpec

if TYPE_CHECKING:
    from hydra_flyte.durable.submit import DetachedJobs
    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.remote.waiting import Progress

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


def finish_detached(
    launch: Launch,
    submitted: list[tuple[JobReturn, JobSpec, DictConfig]],
    detached: DetachedJobs,
    progress: Progress | None,
) -> list[JobReturn]:
    """Create the driver run for every job; with `wait`, follow it to its end and give each job its outcome."""
    from hydra_flyte.durable.submit import submit_driver

    settings, manifest = launch.settings, launch.manifest
    assert manifest is not None
    run = submit_driver(detached, settings=settings, manifest=manifest)
    print(
        f"Detached sweep {manifest.sweep_id}: {len(detached)} jobs in run {run.name} ({run.url}); "
        f"follow it with: flyte hydra status {manifest.path}" + ("" if settings.wait else " --wait"),
        file=sys.stderr,
        flush=True,
    )
    if progress is not None:
        for _ in detached.jobs:
            progress.submitted()
    outcomes: dict[int, Any] = {}
    if settings.wait:
        outcomes = _follow(launch, run, progress)
    returns = []
    for ret, job, config in submitted:
        if ret.status is JobStatus.COMPLETED:
            record_outcome(ret, job, outcomes.get(job.job_num, run) if settings.wait else run)
        launch.job_end(config, ret)
        launch.job_finished(job.job_num or 0, ret)
        returns.append(ret)
    manifest.save()
    launch.summary_due()
    return returns


def _follow(launch: Launch, run: Any, progress: Progress | None) -> dict[int, Any]:
    """Wait for the driver run, the manifest kept up to date; each job's RunResult or RunFailedError."""
    from hydra_flyte.durable.status import refresh
    from hydra_flyte.errors import RunFailedError
    from hydra_flyte.remote.contact import Contact
    from hydra_flyte.results import RunResult
    from hydra_flyte.state.phases import CONFIRMED_TERMINAL, SUCCEEDED

    settings, manifest = launch.settings, launch.manifest
    assert manifest is not None
    contact = Contact(settings.reconnect_timeout_seconds)
    ended: set[int] = set()

    def changed(job: int, phase: str) -> None:
        if phase in CONFIRMED_TERMINAL and job not in ended:
            ended.add(job)
            if progress is not None:
                progress.finished(ok=phase == SUCCEEDED, started=False)

    refresh(manifest, wait=True, call=contact.call, on_change=changed)
    outcomes: dict[int, Any] = {}
    for num, record in manifest.jobs.items():
        if num not in ended and progress is not None:
            progress.finished(ok=record.phase == SUCCEEDED, started=False)
        overrides = tuple(record.overrides)
        if record.phase == SUCCEEDED:
            outcomes[num] = RunResult(
                (record.value,), run=run, url=run.url, name=run.name, overrides=overrides
            )
        else:
            outcomes[num] = RunFailedError(
                url=run.url,
                phase=record.phase,
                message=record.error or f"job {num} ended {record.phase}",
                run=run,
            )
    return outcomes
