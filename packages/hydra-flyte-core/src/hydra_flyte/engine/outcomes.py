"""A job's outcome: into its JobReturn, into the sweep manifest, and the dry-run and invalid-job forms of it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value

if TYPE_CHECKING:
    from hydra_flyte.errors import InvalidJob
    from hydra_flyte.remote.submit import DryRunPlan, JobSpec
    from hydra_flyte.state.manifest import Manifest

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


def planned(
    plan_job: Callable[[DictConfig, JobSpec], DryRunPlan], config: DictConfig, job: JobSpec
) -> JobReturn:
    """The JobReturn of a dry-run job planned by the SDK's task call, without Hydra's per-job work."""
    ret = JobReturn()
    ret.overrides = list(job.overrides)
    ret.cfg = config
    try:
        ret.return_value = plan_job(config, job)
        ret.status = JobStatus.COMPLETED
    except Exception as exc:
        ret.return_value = exc
        ret.status = JobStatus.FAILED
    return ret


def invalid_job(ret: JobReturn, job: JobSpec) -> InvalidJob | None:
    """The InvalidJob for a job whose task function stopped on one of our configuration errors, else None."""
    from hydra_flyte.config.validation import is_our_configuration_error
    from hydra_flyte.errors import InvalidJob

    if ret.status is JobStatus.FAILED and is_our_configuration_error(job_value(ret)):
        return InvalidJob(job.job_num, tuple(job.overrides), job_value(ret))
    return None


def compact_job_errors(submitted: Sequence[tuple[JobReturn, JobSpec, DictConfig]]) -> None:
    """Jobs that stopped on one of our configuration errors hand Hydra a compact one (no traceback)."""
    from hydra_flyte.config.validation import compact, is_our_configuration_error

    for ret, _, _ in submitted:
        if ret.status is JobStatus.FAILED and is_our_configuration_error(job_value(ret)):
            ret.return_value = compact(job_value(ret))


def record_in_manifest(manifest: Manifest, job: JobSpec, outcome: Any) -> None:
    """A finished job's phase and value (or error) in the sweep manifest."""
    from hydra_flyte.errors import ContactLostError, RunFailedError
    from hydra_flyte.remote.submit import is_flyte_run
    from hydra_flyte.results import RunResult
    from hydra_flyte.state.phases import FAILED, PLANNED, SUCCEEDED, UNCONFIRMED

    if isinstance(outcome, RunFailedError):
        manifest.finished(job.job_num, phase=outcome.phase, error=outcome.message)
    elif isinstance(outcome, ContactLostError):  # we could not ask: not a failure
        outcome.manifest_path = manifest.path
        manifest.finished(job.job_num, phase=UNCONFIRMED, error=str(outcome))
    elif isinstance(outcome, BaseException) and manifest.jobs[job.job_num].phase == PLANNED:
        # The control plane never confirmed a run of ours under the name: the submission failed.
        manifest.finished(
            job.job_num, phase=submission_failure_phase(outcome), error=f"{type(outcome).__name__}: {outcome}"
        )
    elif isinstance(outcome, BaseException):
        manifest.finished(job.job_num, phase=FAILED, error=f"{type(outcome).__name__}: {outcome}")
    elif isinstance(outcome, RunResult):
        manifest.finished(job.job_num, phase=SUCCEEDED, value=outcome.value)
    elif manifest.mode == "local":  # the task function returned a value of its own (no flyte.run)
        manifest.finished(job.job_num, phase=SUCCEEDED, value=outcome)
    elif is_flyte_run(outcome):
        pass  # fire and forget: stays SUBMITTED until `status` looks
    elif outcome is not None:  # main returned a value of its own (it may have waited on its run):
        # the summary shows it; the phase stays what the control plane confirmed, for `status` to refresh
        manifest.finished(job.job_num, phase=manifest.jobs[job.job_num].phase, value=outcome)


def submission_failure_phase(exc: BaseException) -> str:
    """What a failed submission leaves a record in.

    NOT_SUBMITTED: nothing was sent (the sweep had stopped submitting). PLANNED: the control plane
    could not be reached or answered too late, so a run may exist under the name (`status` looks
    it up), or its quota was full (the job was not submitted yet: `--resume` submits it).
    SUBMIT_FAILED: the control plane refused the run, or the name is another sweep's.
    """
    from hydra_flyte.errors import NotSubmittedError, WaitingForCapacityError
    from hydra_flyte.remote.submission_pool import is_transient
    from hydra_flyte.state.phases import NOT_SUBMITTED, PLANNED, SUBMIT_FAILED

    if isinstance(exc, WaitingForCapacityError):
        return PLANNED
    if isinstance(exc, NotSubmittedError):
        return NOT_SUBMITTED
    if is_transient(exc):
        return PLANNED
    return SUBMIT_FAILED


def record_outcome(ret: JobReturn, job: JobSpec, outcome: Any) -> None:
    """Put a finished job's result (or the exception it ended with) into its JobReturn, and log it.

    Hydra's JobStatus has no "submitted": with wait=false a remote job stays COMPLETED, its
    return value is the submitted `flyte.remote.Run`, and the log says it was only submitted.
    """
    from hydra_flyte.remote.submit import is_flyte_run

    where = f"#{job.job_num} " if job.job_num is not None else ""
    if isinstance(outcome, BaseException):
        ret.status = JobStatus.FAILED
        ret.return_value = outcome
        log.error(f"Job {where}({job.label}) failed: {outcome}")
        return
    ret.return_value = outcome
    if is_flyte_run(outcome) and job.settings.mode == "remote" and not job.settings.wait:
        log.info(
            f"Job {where}({job.label}) submitted, not completed (hydra.launcher.wait=false): run "
            f"{outcome.name} at {outcome.url}; its return value is the submitted flyte.remote.Run"
        )
    elif outcome is not None:
        # The value itself is the summary's, printed once when the run or sweep ends.
        log.debug(f"Job {where}({job.label}) finished: {outcome!r}")


def settle(ret: JobReturn, job: JobSpec) -> None:
    """Finish one job that ran outside a launch (a single run): wait for it, convert it, record it."""
    from hydra_flyte.remote.waiting import finish_all

    if ret.status is JobStatus.COMPLETED:
        (outcome,) = finish_all([(job_value(ret), job)], max_workers=1)
        record_outcome(ret, job, outcome)


class Durations:
    """When each remote job's run was confirmed, and so its duration in the manifest once it ends."""

    def __init__(self) -> None:
        self._submitted_at: dict[int, float] = {}

    def submitted(self, job_num: int) -> None:
        """A job's run was confirmed now (only its first confirmation counts)."""
        self._submitted_at.setdefault(job_num, time.monotonic())

    def record(self, manifest: Manifest, job: JobSpec) -> None:
        """A remote job's duration in the manifest: from its run's confirmed submission to its end seen here."""
        started = self._submitted_at.pop(job.job_num, None)
        if started is not None and job.job_num in manifest.jobs:
            manifest.timed(job.job_num, time.monotonic() - started)
