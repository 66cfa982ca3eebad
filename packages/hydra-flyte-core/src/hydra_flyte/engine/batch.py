"""One batch of a launch (what Hydra's sweeper hands `FlyteLauncher.launch`): every job composed and checked, then started, then waited for."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.compose.heap import heap_frozen
from hydra_flyte.config.run_rules import check_launch
from hydra_flyte.engine.job_start import start_job
from hydra_flyte.engine.launch_end import finish_launch
from hydra_flyte.engine.outcomes import compact_job_errors, invalid_job
from hydra_flyte.remote.submit import JobSpec, probe_before_submitting, run_name

if TYPE_CHECKING:
    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.remote.resume import Resumed
    from hydra_flyte.remote.waiting import Progress
    from hydra_flyte.settings_schema import LaunchSettings
    from hydra_flyte.state.manifest import Manifest

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had

#: A started job: Hydra's JobReturn (its value a submitted run, a result or a plan), the job, its config.
Started = tuple[JobReturn, JobSpec, DictConfig]


def run_batch(
    launch: Launch, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[JobReturn]:
    """Compose and check every job of the batch, start them (remote runs held until all are valid), wait, end."""
    setup_globals()
    config = launch.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    from hydra_flyte.state.output import logging_to_stderr

    logging_to_stderr()  # the handlers Hydra just bound to stdout: logs are not results
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    settings = launch.settings
    verb = "Planning" if settings.dry_run else "Launching"
    log.info(f"{verb} {len(job_overrides)} jobs on Flyte ({settings.mode} mode)")
    numbered = [
        (initial_job_idx + offset, tuple(overrides)) for offset, overrides in enumerate(job_overrides)
    ]
    # What a real control plane would refuse (run names, labels, env vars): before anything is planned.
    check_launch(settings, job_nums=[idx for idx, _ in numbered], sweeper=config.hydra.sweeper,
                 sweep_id=launch.manifest.sweep_id if launch.manifest is not None else None)  # fmt: skip
    if settings.detach and not settings.dry_run and settings.resume is None:
        _check_detachable(config.hydra.sweeper)
    manifest = launch.manifest_for(sweep_dir)
    resumed = None
    if settings.resume is not None and manifest is not None and manifest.driver:  # a detached sweep
        from hydra_flyte.engine.detached import resume_detached

        return resume_detached(launch, numbered, progress_for(settings, len(numbered)))
    if settings.resume is not None:  # look every job up, plan the new attempts: before composing any
        from hydra_flyte.remote.resume import resume_batch

        assert manifest is not None
        resumed = resume_batch(config, manifest, numbered, initial_job_idx, settings)
    progress = progress_for(settings, len(numbered)) if manifest is not None else None
    submitted: list[Started] = []
    try:
        with contextlib.ExitStack() as stack:
            from hydra_flyte.compat.omegaconf_private import interpolations_parsed_once
            from hydra_flyte.state.output import results_on_stdout

            stack.enter_context(results_on_stdout())  # logs and progress to stderr, the summary to stdout
            stack.enter_context(heap_frozen())
            stack.enter_context(interpolations_parsed_once())
            if manifest is not None:  # whatever happens, what was submitted is on disk
                stack.callback(_save_if_planned, manifest)
            stack.callback(launch.config_loader.forget_validated)
            # Every job is composed and checked before the first one runs or is submitted.
            configs = [launch.compose(overrides, idx) for idx, overrides in numbered]
            launch.raise_if_invalid(
                [
                    launch.invalid_config(cfg, idx, overrides)
                    for (idx, overrides), cfg in zip(numbered, configs, strict=True)
                ]
            )
            if manifest is not None and settings.mode == "local":  # every job of the launch on disk first
                manifest.plan((idx, overrides, None) for idx, overrides in numbered)
            detached = None
            if settings.detach and not settings.dry_run:  # the jobs' runs are kept for one driver run
                from hydra_flyte.durable.submit import DetachedJobs

                held = detached = DetachedJobs()
                launch.remote_submission(stack)  # flyte initialised once, the builds shared
            else:
                held = launch.remote_submission(stack)
            try:
                for (idx, overrides), cfg in zip(numbered, configs, strict=True):
                    existing = resumed.existing.get(idx) if resumed is not None else None
                    submitted.append(start_job(launch, cfg, overrides, idx, held, progress, existing))
                del configs
                # Remote submissions were only recorded: release them if every job is valid.
                # (Local jobs ran as they came: their own errors are reported job by job.)
                if held is not None or settings.dry_run:
                    launch.raise_if_invalid(
                        [invalid_job(ret, job) for ret, job, _ in submitted], total=len(submitted)
                    )
                else:
                    compact_job_errors(submitted)
                if manifest is not None and resumed is None:  # every run named on disk before submitting
                    unplanned = [job for _, job, _ in submitted if job.job_num not in manifest.jobs]
                    manifest.plan(
                        (job.job_num, job.overrides, None if detached is not None else run_name(job))
                        for job in unplanned
                    )
                if held is not None and len(held):
                    probe_before_submitting()
                if resumed is None and detached is None:  # a reused --name: caught before submitting
                    launch.check_name_is_free([job for _, job, _ in submitted])
            except BaseException as exc:
                if held is not None:
                    held.cancel(exc)  # nothing was submitted
                raise
            if detached is not None:
                from hydra_flyte.engine.detached import finish_detached

                return finish_detached(launch, submitted, detached, progress)
            if held is not None:
                held.release()
            return finish_launch(launch, submitted, progress)
    except KeyboardInterrupt as interrupt:
        if not hasattr(interrupt, "manifest_path"):  # during submission (waiting reports its own)
            _interrupted_while_submitting(launch, interrupt, submitted, manifest, resumed)
        raise


def _check_detachable(sweeper: DictConfig) -> None:
    """A detached sweep is one driver run for all its jobs: only a sweeper that hands them over in one batch."""
    from hydra_flyte.config.validation import compact
    from hydra_flyte.errors import ConfigurationError

    target = str(sweeper.get("_target_", ""))
    if "BasicSweeper" in target and sweeper.get("max_batch_size") is None:
        return
    raise compact(
        ConfigurationError(
            f"detach runs the whole sweep as one driver run, which needs every job at once, and the sweeper "
            f"{target or '(unknown)'} launches its jobs batch after batch. Use Hydra's basic sweeper (without "
            "hydra.sweeper.max_batch_size) or hydra/sweeper=optuna_async, or drop detach."
        )
    )


def progress_for(settings: LaunchSettings, jobs: int) -> Progress | None:
    """The progress line of a batch that waits (or runs here), else None."""
    if not (settings.wait or settings.mode == "local"):
        return None
    from hydra_flyte.remote.waiting import Progress

    return Progress(jobs, local=settings.mode == "local")


def _interrupted_while_submitting(
    launch: Launch,
    interrupt: KeyboardInterrupt,
    submitted: list[Started],
    manifest: Manifest | None,
    resumed: Resumed | None,
) -> None:
    """Ctrl-C before the batch's waiting began: record it and say how to resume (the caller re-raises)."""
    from hydra_flyte.engine.interrupt import handle_interrupt

    # The pool has let the submissions in flight land (and dropped the queued ones).
    runs = [job_value(ret) for ret, _, _ in submitted if ret.status is JobStatus.COMPLETED]
    if manifest is not None and manifest.mode == "local":  # no run to reattach to: recorded only
        from hydra_flyte.engine.local_sweep import record_interrupt

        record_interrupt(manifest)
        manifest = None
    handle_interrupt(interrupt, manifest, runs, launch.settings, submitting=True, sdk=launch.driven_by_sdk)


def _save_if_planned(manifest: Manifest) -> None:
    """Write the manifest, unless nothing of the sweep was planned (it stopped at validation)."""
    if manifest.jobs:
        manifest.save()
