"""How a batch of a launch ends: every job's run waited for, Hydra handed the outcomes, the summary.

After the waiting come the manifest's last write and the report, when asked for. Light at import:
flyte and the summary's rendering are imported when a batch ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.engine.outcomes import record_in_manifest, record_outcome
from hydra_flyte.remote.submit import JobSpec

if TYPE_CHECKING:
    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.remote.waiting import Progress


def finish_launch(
    launch: Launch, submitted: list[tuple[JobReturn, JobSpec, DictConfig]], progress: Progress | None
) -> list[JobReturn]:
    """Wait for every job's run (all submitted by now) and hand Hydra each job's real outcome."""
    from hydra_flyte.engine.interrupt import handle_interrupt
    from hydra_flyte.remote.waiting import finish_all

    settings, manifest = launch.settings, launch.manifest
    pending = [(job_value(ret), job) for ret, job, _ in submitted if ret.status is JobStatus.COMPLETED]

    def finished(index: int, outcome: Any) -> None:
        if manifest is not None:
            record_in_manifest(manifest, pending[index][1], outcome)
            launch.durations.record(manifest, pending[index][1])

    try:
        outcomes = finish_all(
            pending, max_workers=settings.wait_max_workers, fail_fast=settings.fail_fast,
            on_finished=finished, progress=progress,
        )  # fmt: skip
    except KeyboardInterrupt as interrupt:
        from hydra_flyte.remote.submission_pool import PendingRun

        if any(isinstance(value, PendingRun) and not value.done() for value, _ in pending):
            raise  # still submitting: `launch` reports it once the submissions in flight landed
        runs = [value for value, _ in pending]
        handle_interrupt(interrupt, manifest, runs, settings, sdk=launch.driven_by_sdk)
        raise
    finished_iter = iter(outcomes)
    returns = []
    for ret, job, config in submitted:
        if ret.status is JobStatus.COMPLETED:
            record_outcome(ret, job, next(finished_iter))
        launch.job_end(config, ret)
        launch.job_finished(job.job_num or 0, ret)
        returns.append(ret)
    if manifest is not None:
        manifest.save()
        launch.summary_due()  # with the report, when asked: once the sweep has ended
    if settings.dry_run:
        from hydra_flyte.state.output import print_plans

        print_plans(
            job_value(ret)
            for ret, _, _ in submitted
            if ret.status is JobStatus.COMPLETED and job_value(ret) is not None
        )
    return returns
