"""The trial loop of `hydra/sweeper=optuna_async`: ask a trial, start its job, tell its outcome.

Each trial of a remote sweep carries two user attributes, set before its job is planned: the
sweep's id (`hydra-flyte-sweep`) and its job number (`hydra-flyte-job`), so a resumed sweep can
match the study's open trials with the manifest's jobs (see hydra_flyte.optuna.resume).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.errors import ConfigurationError
from hydra_flyte.optuna.space import SearchSpace, objective_values

log = logging.getLogger(__name__)

SWEEP_ATTR = "hydra-flyte-sweep"
JOB_ATTR = "hydra-flyte-job"


class TrialLoop:
    """Asks, starts, tells: the bookkeeping of one sweep's trials."""

    def __init__(
        self,
        sweeper: Any,
        study: Any,
        space: SearchSpace,
        extender: Any,
        *,
        n_trials: int,
        sweep_id: str | None = None,
    ):
        self.sweeper = sweeper
        self.study = study
        self.space = space
        self.extender = extender
        self.n_trials = n_trials
        self.sweep_id = sweep_id  # a remote sweep's id, recorded on each trial
        self.asked = 0
        self.told = 0
        self.failures: list[JobReturn] = []
        self.stopped = False  # too many failures (or fail_fast): ask no more
        self.resumed: Any = None  # a resumed sweep's open trials (hydra_flyte.optuna.resume.Resume)

    # -- asking ------------------------------------------------------------------------------
    def ask(self, job_num: int | None = None) -> tuple[Any, list[str]]:
        """A new trial and the overrides of its job."""
        trial = self.study.ask()
        self.asked += 1
        try:
            if self.sweep_id is not None and job_num is not None:  # first: a resume knows the trial is ours
                trial.set_user_attr(SWEEP_ATTR, self.sweep_id)
                trial.set_user_attr(JOB_ATTR, job_num)
            for dimension in self.space.dimensions:
                dimension.suggest(trial)
            for name, value in self.space.fixed:
                trial.set_user_attr(name, value)
            if self.extender is not None:
                self.extender(self.sweeper.config, trial)
            overlap = set(trial.params) & (set(trial.user_attrs) - {SWEEP_ATTR, JOB_ATTR})
            if overlap:
                raise ConfigurationError(
                    f"parameters both searched and fixed: {sorted(overlap)}: give each either a sweep "
                    "(interval/range/choice) or a single value."
                )
        except BaseException:
            self._tell_failed(trial)
            raise
        params = dict(trial.params)
        params.update(self.space.fixed)
        return trial, [f"{name}={value}" for name, value in params.items()]

    def next_job_num(self) -> int:
        num = self.sweeper.job_idx
        self.sweeper.job_idx += 1
        return num

    # -- telling -----------------------------------------------------------------------------
    def tell(self, trial: Any, ret: JobReturn) -> None:
        """Tell the study how a trial's job ended; a failed job (or a value that is not a number) is FAIL."""
        optuna = self.sweeper.optuna
        try:
            if ret.status is not JobStatus.COMPLETED:
                raise (
                    job_value(ret) if isinstance(job_value(ret), BaseException) else RuntimeError("failed")
                )
            values = objective_values(job_value(ret), len(self.sweeper.directions))
        except Exception as exc:
            log.warning(f"Trial {trial.number} failed: {exc}")
            if ret.status is JobStatus.COMPLETED:  # the run succeeded, its value is unusable: the job failed
                ret.status = JobStatus.FAILED
                ret.return_value = exc
            self._tell_failed(trial)
            self.failures.append(ret)
        else:
            self._tell(trial, state=optuna.trial.TrialState.COMPLETE, values=values)
            shown = values[0] if len(values) == 1 else values
            log.info(f"Trial {trial.number} finished: {shown} ({' '.join(ret.overrides or [])})")
        self.told += 1
        self._check_failure_rate()

    def _check_failure_rate(self) -> None:
        if self.too_many_failures():
            if not self.stopped:
                log.error(
                    f"{len(self.failures)} of {self.told} trials failed, above max_failure_rate="
                    f"{self.sweeper.max_failure_rate}: no new trials"
                )
            self.stopped = True

    def _tell_failed(self, trial: Any) -> None:
        self._tell(trial, state=self.sweeper.optuna.trial.TrialState.FAIL, values=None)

    def _tell(self, trial: Any, *, state: Any, values: Sequence[float] | None) -> None:
        try:
            self.study.tell(trial, values=values, state=state)
        except RuntimeError as exc:
            # Optuna 2.x's grid sampler calls study.stop() once the grid is done, which ask-and-tell
            # reports as an error after the trial is recorded.
            if "Study.stop" not in str(exc):
                raise

    def too_many_failures(self) -> bool:
        return bool(self.failures) and len(self.failures) / max(self.told, 1) > self.sweeper.max_failure_rate

    def raise_if_failed(self) -> None:
        """Fail the sweep, with the first failed job's error, if failures went above max_failure_rate."""
        if self.stopped or self.too_many_failures():
            first = self.failures[0]
            first.return_value  # noqa: B018 - JobReturn raises the job's own exception, with its traceback

    # -- resuming ----------------------------------------------------------------------------
    def count_earlier(self, finished: int, failures: Sequence[JobReturn]) -> None:
        """A resumed sweep's trials that finished before: they count towards n_trials and the failure rate."""
        self.asked += finished
        self.told += finished
        self.failures.extend(failures)
        self._check_failure_rate()

    # -- the loops ---------------------------------------------------------------------------
    def run_streaming(self) -> None:
        """n_jobs trials in flight: each finished trial is told, and the next one asked and started at once."""
        launcher = self.sweeper.launcher
        pending: dict[int, Any] = {}
        reattach = self.resumed.open if self.resumed is not None else []
        refresh = self.resumed.refresh if self.resumed is not None else []
        recording: set[int] = set()  # finished trials' runs, only to record their outcome in the manifest
        with launcher.job_stream(total=self.n_trials - self.told + len(refresh)) as stream:
            try:
                try:
                    for job_num, overrides, existing in refresh:
                        stream.start(job_num, overrides, existing=existing)
                        recording.add(job_num)
                    for job_num, trial, overrides, existing in reattach:  # a resumed sweep's open trials
                        self.asked += 1
                        stream.start(job_num, overrides, existing=existing)
                        pending[job_num] = trial
                    self._fill(stream, pending)
                    while pending or recording:
                        job_num, ret = stream.next_finished()
                        if job_num in recording:  # told before the resume: not told again
                            recording.discard(job_num)
                            continue
                        self.tell(pending.pop(job_num), ret)
                        if ret.status is not JobStatus.COMPLETED and stream.settings.fail_fast:
                            self.stopped = True
                        self._fill(stream, pending)
                except KeyboardInterrupt as interrupt:
                    if not hasattr(interrupt, "manifest_path"):  # while submitting (waiting reports its own)
                        stream.interrupted(interrupt)
                    raise
            finally:
                stream.summary()

    def _fill(self, stream: Any, pending: dict[int, Any]) -> None:
        while not self.stopped and self.asked < self.n_trials and len(pending) < self.sweeper.n_jobs:
            job_num = self.next_job_num()
            trial, overrides = self.ask(job_num)
            try:
                stream.start(job_num, overrides)
            except Exception as exc:
                self._tell_failed(trial)
                if not stream.submitted_any:
                    raise  # nothing is running yet: the sweep fails before it starts, as any sweep would
                log.exception(f"Trial {trial.number} (job #{job_num}) could not start")
                self.told += 1
                self.failures.append(failed_return(overrides, exc))
                if self.too_many_failures():
                    self.stopped = True
                continue
            pending[job_num] = trial

    def run_one_at_a_time(self) -> None:
        """Through launcher.launch, one trial per launch (other launchers, local mode)."""
        while not self.stopped and self.asked < self.n_trials:
            job_num = self.next_job_num()
            trial, overrides = self.ask()
            try:
                (ret,) = self.sweeper.launcher.launch([overrides], initial_job_idx=job_num)
            except BaseException:
                self._tell_failed(trial)
                raise
            self.tell(trial, ret)

    def plan_only(self) -> None:
        """A dry run: the first n_jobs trials (the next ones depend on their values), on an in-memory study."""
        count = min(self.sweeper.n_jobs, self.n_trials)
        asked = [self.ask() for _ in range(count)]
        self.sweeper.launcher.launch(
            [overrides for _, overrides in asked], initial_job_idx=self.sweeper.job_idx
        )
        log.info(
            f"Dry run: planned the first {count} of {self.n_trials} trials; later trials depend on their values"
        )


def failed_return(overrides: Sequence[str], error: BaseException) -> JobReturn:
    ret = JobReturn()
    ret.overrides = list(overrides)
    ret.status = JobStatus.FAILED
    ret.return_value = error
    return ret
