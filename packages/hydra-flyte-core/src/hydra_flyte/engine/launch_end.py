"""How a FlyteLauncher launch ends: every job's run waited for, Hydra handed the outcomes, the summary.

After the waiting come the manifest's last write and the report, when asked for.

Functions of the launcher (passed in), kept apart from `engine.launcher` so that the class reads as
setup, composition and submission. Light at import: flyte and the summary's rendering are
imported when a launch ends.
"""

from __future__ import annotations

from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.engine.outcomes import record_in_manifest, record_outcome
from hydra_flyte.engine.overlay import _overlay


def finish_launch(
    launcher: Any,
    submitted: list[tuple[JobReturn, Any, DictConfig]],
    settings: Any,
    manifest: Any,
    progress: Any,
) -> list[JobReturn]:
    """Wait for every job's run (all submitted by now) and hand Hydra each job's real outcome."""
    from hydra_flyte.engine.interrupt import handle_interrupt
    from hydra_flyte.remote.waiting import finish_all

    pending = [(job_value(ret), job) for ret, job, _ in submitted if ret.status is JobStatus.COMPLETED]

    def finished(index: int, outcome: Any) -> None:
        if manifest is not None:
            record_in_manifest(manifest, pending[index][1], outcome)
            launcher.durations.record(manifest, pending[index][1])

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
        handle_interrupt(interrupt, manifest, runs, settings, sdk=_overlay.get() is not None)
        raise
    finished_iter = iter(outcomes)
    returns = []
    overlay = _overlay.get()
    for ret, job, config in submitted:
        if ret.status is JobStatus.COMPLETED:
            record_outcome(ret, job, next(finished_iter))
        job_end(launcher, config, ret)
        if overlay is not None and overlay.on_job_finished is not None:
            overlay.on_job_finished(job.job_num or 0, ret)
        returns.append(ret)
    if manifest is not None:
        manifest.save()
        if settings.report:
            from hydra_flyte.report.html import write_report

            write_report(manifest)
        summary_due(launcher)
    if settings.dry_run:
        from hydra_flyte.state.summary import results_stream

        for ret, _, _ in submitted:
            if ret.status is JobStatus.COMPLETED and job_value(ret) is not None:
                describe = getattr(job_value(ret), "describe", None)
                print(describe() if describe else job_value(ret), file=results_stream(), flush=True)
    return returns


def summary_due(launcher: Any) -> None:
    """Print the sweep's summary now when this launch was the whole sweep; else when the sweep ends.

    BasicSweeper without a batch limit launches every job at once; other sweepers (Optuna, ...)
    launch batch after batch, so the summary waits for the sweep's end (FlyteRunCallback's
    on_multirun_end, the SDK's return, or the process's exit when the sweeper raised).
    """
    from hydra_flyte.state.summary import defer

    assert launcher.config is not None
    sweeper = launcher.config.hydra.sweeper
    if "BasicSweeper" in str(sweeper.get("_target_", "")) and sweeper.get("max_batch_size") is None:
        launcher.print_summary()
    else:
        defer(launcher, launcher.print_summary)


def print_sweep_summary(launcher: Any) -> None:
    """The sweep's summary (every job so far), in the `summary` format of its settings, on stdout."""
    from hydra_flyte.state.summary import forget, print_summary, sweep_header

    forget(launcher)
    manifest = launcher.manifest
    if manifest is None:
        return
    where = f" ({manifest.mode})" if manifest.mode == "local" else ""
    print_summary(
        manifest.records(), fmt=launcher.settings().summary, direction=manifest.direction,
        title=f"Sweep {manifest.sweep_id}{where}", footer=[f"Manifest: {manifest.path}"],
        header=sweep_header(manifest),
    )  # fmt: skip


def job_end(launcher: Any, config: DictConfig, ret: JobReturn) -> None:
    """Hydra's on_job_end for one job, now that its outcome is known, with its Hydra config set."""
    from hydra.core.hydra_config import HydraConfig

    from hydra_flyte.compose.job_runner import only_our_callbacks

    hydra_context = launcher.hydra_context
    assert hydra_context is not None
    if only_our_callbacks(hydra_context.callbacks):  # ours reads neither HydraConfig nor hydra_cfg
        hydra_context.callbacks.on_job_end(config=config, job_return=ret)
        return
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.cfg = ret.hydra_cfg  # type: ignore[assignment]
    try:
        hydra_context.callbacks.on_job_end(config=config, job_return=ret)
    finally:
        hydra_config.cfg = previous
