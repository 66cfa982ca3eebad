"""One composed job of a FlyteLauncher launch started: run here (local sweep), planned (dry run), or submitted from its job scope."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides
from omegaconf import DictConfig

from hydra_flyte.engine.outcomes import planned
from hydra_flyte.remote.submit import JobSpec

if TYPE_CHECKING:
    from hydra.types import HydraContext

    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.remote.held_submissions import HeldSubmissions
    from hydra_flyte.remote.waiting import Progress
    from hydra_flyte.settings_schema import LaunchSettings
    from hydra_flyte.state.manifest import Manifest

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


def start_job(
    launch: Launch,
    sweep_config: DictConfig,
    overrides: Sequence[str],
    idx: int,
    pool: HeldSubmissions | None,
    progress: Progress | None,
    existing: Any = None,
) -> tuple[JobReturn, JobSpec, DictConfig]:
    """Run one composed job's task function in a job scope (which starts, asks for, or plans its run).

    `existing`: a resumed job's run of this sweep (or the result the manifest kept), used instead of submitting.
    """
    from hydra_flyte.compose.run_job import run_sweep_job
    from hydra_flyte.engine.job_scope import job_scope
    from hydra_flyte.remote.submit import run_name
    from hydra_flyte.state.phases import PLANNED

    settings, manifest = launch.settings, launch.manifest
    log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
    if manifest is not None and settings.mode == "local":
        from hydra_flyte.engine.local_sweep import run_local_job

        if progress is not None:
            progress.local_job_started()
        done = run_local_job(launch, sweep_config, overrides, idx)
        if progress is not None:
            progress.local_job_finished(ok=done[0].status is JobStatus.COMPLETED)
        return done

    def recorded(run: Any) -> None:
        assert manifest is not None
        launch.durations.submitted(idx)
        if manifest.jobs[idx].phase == PLANNED:  # a resumed job's run may be further on already
            manifest.submitted(idx, run_name=run.name, url=run.url)
        if progress is not None:
            progress.submitted()

    def planned_now() -> None:
        """The script reads its run inside main: it is sent now, so its name goes on disk first."""
        assert manifest is not None
        if idx not in manifest.jobs:  # (a resumed job's record is there already)
            manifest.plan([(idx, tuple(overrides), run_name(job))])

    job = JobSpec(
        settings=settings,
        job_num=idx,
        overrides=tuple(overrides),
        pool=pool,
        sweep_id=manifest.sweep_id if manifest is not None else None,
        on_submitted=recorded if manifest is not None else None,
        planned_name=manifest.jobs[idx].run_name if _resuming(manifest, idx, settings) else None,
        existing=existing,
        before_send=planned_now if manifest is not None else None,
    )
    overlay = launch.overlay
    if (
        settings.dry_run
        and overlay is not None
        and overlay.plan_job is not None
        and _plain_callbacks(launch.hydra_context)
    ):
        # The SDK's own task call needs no job directory, logging or snapshots to say what it would run.
        return planned(overlay.plan_job, sweep_config, job), job, sweep_config
    with job_scope(job):
        ret = run_sweep_job(
            hydra_context=launch.hydra_context,
            task_function=launch.task_function,
            config=sweep_config,
            dry_run=settings.dry_run,
        )
    if not settings.dry_run:  # the job set up its own logging: back to the launch's
        configure_log(launch.config.hydra.hydra_logging, launch.config.hydra.verbose)
    return ret, job, sweep_config


def _resuming(manifest: Manifest | None, idx: int, settings: LaunchSettings) -> bool:
    """A resumed sweep's job: its run name is the manifest's (a new attempt's is `<name>-r<k>`)."""
    return manifest is not None and settings.resume is not None and idx in manifest.jobs


def _plain_callbacks(hydra_context: HydraContext) -> bool:
    from hydra_flyte.compose.job_runner import only_our_callbacks

    return only_our_callbacks(hydra_context.callbacks)
