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
    from hydra_flyte.state.manifest import JobRecord, Manifest

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
    try:
        run = submit_driver(detached, settings=settings, manifest=manifest)
    except Exception as exc:
        _submission_failed(manifest, exc)
        raise
    print(
        f"Detached sweep {manifest.sweep_id}: {len(detached)} jobs in run {run.name} ({run.url}); "
        f"follow it with: flyte hydra status {manifest.path}" + ("" if settings.wait else " --wait"),
        file=sys.stderr,
        flush=True,
    )
    if progress is not None:
        for _ in detached.jobs:
            progress.submitted()
    outcomes = _follow(launch, run, progress) if settings.wait else {}
    return _hand_over(launch, submitted, outcomes, run)


def _submission_failed(manifest: Manifest, exc: BaseException) -> None:
    """The driver run was not created (refused, another's name, out of reach): every job says why, on disk."""
    from hydra_flyte.engine.outcomes import submission_failure_phase
    from hydra_flyte.state.phases import PLANNED

    phase = submission_failure_phase(exc)
    for num, record in manifest.jobs.items():
        if record.phase == PLANNED:
            manifest.finished(num, phase=phase, error=f"the sweep's driver run: {type(exc).__name__}: {exc}")
    manifest.save()


def outcome_of(record: JobRecord, run: Any) -> Any:
    """A detached job's outcome as its manifest record holds it: its RunResult, or the RunFailedError it ended with."""
    from hydra_flyte.errors import RunFailedError
    from hydra_flyte.results import RunResult
    from hydra_flyte.state.phases import SUCCEEDED

    if record.phase == SUCCEEDED:
        return RunResult(
            (record.value,), run=run, url=run.url, name=run.name, overrides=tuple(record.overrides)
        )
    return RunFailedError(
        url=run.url,
        phase=record.phase,
        message=record.error or f"job {record.job} ended {record.phase}",
        run=run,
    )


def _hand_over(
    launch: Launch, started: list[tuple[JobReturn, JobSpec, DictConfig]], outcomes: dict[int, Any], run: Any
) -> list[JobReturn]:
    """Each job's outcome (the driver run itself when not waited on) into its JobReturn, told to Hydra and the SDK;
    the manifest written, the summary due."""
    assert launch.manifest is not None
    returns = []
    for ret, job, config in started:
        if ret.status is JobStatus.COMPLETED:
            record_outcome(ret, job, outcomes.get(job.job_num, run))
        launch.job_end(config, ret)
        launch.job_finished(job.job_num or 0, ret)
        returns.append(ret)
    launch.manifest.save()
    launch.summary_due()
    return returns


def _follow(launch: Launch, run: Any, progress: Progress | None) -> dict[int, Any]:
    """Wait for the driver run, the manifest kept up to date; each job's RunResult or RunFailedError."""
    from hydra_flyte.durable.status import refresh
    from hydra_flyte.remote.contact import Contact
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
        outcomes[num] = outcome_of(record, run)
    return outcomes


def resume_detached(
    launch: Launch, numbered: list[tuple[int, tuple[str, ...]]], progress: Progress | None
) -> list[JobReturn]:
    """`--resume` of a detached sweep: its driver run looked up; the jobs that did not succeed run again in a
    new driver run (from the recorded plan); with `wait`, followed to the end. The same jobs, checked first."""
    from hydra_flyte.durable.rerun import rerun_detached
    from hydra_flyte.durable.status import refresh
    from hydra_flyte.errors import ConfigurationError
    from hydra_flyte.remote.contact import Contact
    from hydra_flyte.remote.submit import ensure_endpoint
    from hydra_flyte.state import phases as ph

    settings, manifest = launch.settings, launch.manifest
    assert manifest is not None and manifest.driver
    recorded = {num: tuple(record.overrides) for num, record in manifest.jobs.items()}
    asked = {num: tuple(overrides) for num, overrides in numbered}
    if asked != recorded:
        raise ConfigurationError(
            f"resume: the sweep {manifest.sweep_id} ran {len(recorded)} jobs, and this command composes "
            f"{len(asked)} others: run the very same command (the same overrides) to resume it."
        )
    ensure_endpoint()
    refresh(manifest, wait=False, call=Contact(settings.reconnect_timeout_seconds).call)
    run = None
    if any(ph.is_rerunnable_failure(r.phase) for r in manifest.records()):
        run = rerun_detached(manifest)
    if run is None:
        from flyte.remote import Run

        run = Run.get(name=str(manifest.driver["run_name"]))
    returns: list[tuple[JobReturn, JobSpec, DictConfig]] = []
    for num, overrides in numbered:
        ret = JobReturn()
        ret.overrides = list(overrides)
        ret.status = JobStatus.COMPLETED
        config = launch.compose(overrides, num)
        ret.cfg = config
        returns.append((ret, JobSpec(settings=settings, job_num=num, overrides=overrides), config))
    outcomes = _follow(launch, run, progress) if settings.wait else {}
    return _hand_over(launch, returns, outcomes, run)
