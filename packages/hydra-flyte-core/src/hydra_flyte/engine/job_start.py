"""One composed job of a FlyteLauncher launch started: run here (local sweep), planned (dry run), or submitted from its job scope."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides
from omegaconf import DictConfig

from hydra_flyte.engine.outcomes import planned
from hydra_flyte.engine.overlay import _overlay

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


def start_job(
    launcher: Any,
    sweep_config: DictConfig,
    overrides: Sequence[str],
    idx: int,
    settings: Any,
    pool: Any,
    manifest: Any,
    progress: Any,
    existing: Any = None,
) -> tuple[JobReturn, Any, DictConfig]:
    """Run one composed job's task function in a job scope (which starts, asks for, or plans its run)."""
    from hydra_flyte.compose.run_job import run_sweep_job
    from hydra_flyte.engine.job_scope import job_scope
    from hydra_flyte.remote.submit import JobSpec, run_name
    from hydra_flyte.state.phases import PLANNED

    assert launcher.config is not None and launcher.hydra_context is not None
    assert launcher.task_function is not None
    log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
    if manifest is not None and settings.mode == "local":
        from hydra_flyte.engine.local_sweep import run_local_job

        if progress is not None:
            progress.local_job_started()
        done = run_local_job(launcher, sweep_config, overrides, idx, settings, manifest)
        if progress is not None:
            progress.local_job_finished(ok=done[0].status is JobStatus.COMPLETED)
        return done

    def recorded(run: Any) -> None:
        launcher.durations.submitted(idx)
        if manifest.jobs[idx].phase == PLANNED:  # a resumed job's run may be further on already
            manifest.submitted(idx, run_name=run.name, url=run.url)
        if progress is not None:
            progress.submitted()

    def planned_now() -> None:
        """The script reads its run inside main: it is sent now, so its name goes on disk first."""
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
    overlay = _overlay.get()
    if (
        settings.dry_run
        and overlay is not None
        and overlay.plan_job is not None
        and _plain_callbacks(launcher.hydra_context)
    ):
        # The SDK's own task call needs no job directory, logging or snapshots to say what it would run.
        return planned(overlay.plan_job, sweep_config, job), job, sweep_config
    with job_scope(job):
        ret = run_sweep_job(
            hydra_context=launcher.hydra_context, task_function=launcher.task_function, config=sweep_config
        )
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    return ret, job, sweep_config


def _resuming(manifest: Any, idx: int, settings: Any) -> bool:
    """A resumed sweep's job: its run name is the manifest's (a new attempt's is `<name>-r<k>`)."""
    return manifest is not None and settings.resume is not None and idx in manifest.jobs


def _plain_callbacks(hydra_context: Any) -> bool:
    from hydra_flyte.compose.job_runner import only_our_callbacks

    return only_our_callbacks(hydra_context.callbacks)
