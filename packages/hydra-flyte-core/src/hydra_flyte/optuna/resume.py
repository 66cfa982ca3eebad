"""Resuming a `hydra/sweeper=optuna_async` sweep from its study's storage and the control plane.

The launcher's resume option (`--resume SWEEP`, `hydra.launcher.resume=SWEEP`, `resume=`) loads
the sweep's manifest (hydra_flyte.remote.resume.prepare: its id, directory and run names); the study is
loaded from `hydra.sweeper.storage` (by `study_name`, or, when that is null, the study that
recorded this sweep's id). The trials of this sweep (user attribute `hydra-flyte-sweep`) are then:

- finished (COMPLETE, FAIL, PRUNED): kept; they count towards `n_trials` (and FAIL ones towards
  `max_failure_rate`); nothing is asked or submitted for them. A process killed after telling a
  trial but before saving its job's outcome leaves the manifest behind the study: such a job's
  run is looked up and its outcome recorded from the control plane (the study is not told again);
- still open (RUNNING in the study) with a job in the manifest: the job is looked up on the
  control plane by its run name (hydra_flyte.remote.resume.plan). A run of this sweep's job is
  reattached: waited on and told when it finishes, whatever phase it is in (a run that failed is
  told as failed, not run again). A job the control plane never received (PLANNED, no run) is
  submitted under its planned name with the trial's parameters: the trial is not asked again;
- still open with no job in the manifest: the process stopped between asking the trial and
  planning its job, so no run can exist. The trial is told FAIL, marked with the user attribute
  `hydra-flyte-resume`, and does not count: a new trial is asked in its place.

A trial records the sweep first thing after it is asked (one storage write); a process killed
inside that write leaves a RUNNING trial that names no sweep: it is left alone, with a warning.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra_flyte.errors import ConfigurationError, HydraFlyteError
from hydra_flyte.optuna.trials import JOB_ATTR, SWEEP_ATTR, failed_return
from hydra_flyte.state.phases import needs_refresh

log = logging.getLogger(__name__)

RESUME_ATTR = "hydra-flyte-resume"
NOT_SUBMITTED_MARK = "asked, never submitted (the sweep stopped before planning its job): told FAIL on resume"


def study_key(sweep_id: str) -> str:
    """The study's user attribute that records a sweep of it (its value: the sweep directory)."""
    return f"{SWEEP_ATTR}:{sweep_id}"


def find_study_name(optuna: Any, storage: Any, sweep_id: str, shown_storage: str) -> str:
    """The study in `storage` that recorded sweep `sweep_id` (the sweep ran with study_name=null)."""
    try:
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    except TypeError:  # Optuna 2.x has no include_best_trial
        summaries = optuna.get_all_study_summaries(storage)
    names = [s.study_name for s in summaries if study_key(sweep_id) in (s.user_attrs or {})]
    if not names:
        raise ConfigurationError(
            f"cannot resume sweep {sweep_id}: no study in hydra.sweeper.storage={shown_storage} recorded it. "
            "Resume with the hydra.sweeper.storage (and hydra.sweeper.study_name) the sweep was started with."
        )
    return str(names[-1])


@dataclass
class Resume:
    """A resumed sweep's trials: how many finished before, and the open ones to reattach or submit."""

    finished: int = 0
    failures: list[Any] = field(default_factory=list)  # JobReturns of the trials that failed before
    # (job number, optuna Trial, overrides, the run to wait on or None to submit under the planned name)
    open: list[tuple[int, Any, tuple[str, ...], Any]] = field(default_factory=list)
    # (job number, overrides, its run): finished trials whose manifest record the kill left unsettled
    refresh: list[tuple[int, tuple[str, ...], Any]] = field(default_factory=list)
    re_asked: int = 0

    def summary(self) -> str:
        return (
            f"optuna_async resume: {self.finished} trials finished earlier (kept), {len(self.open)} open trials "
            f"reattached or submitted under their planned names, {self.re_asked} asked but never submitted "
            f"(told FAIL, asked anew), {len(self.refresh)} finished runs recorded from the control plane"
        )


def resume_trials(optuna: Any, study: Any, manifest: Any, settings: Any, *, storage: Any) -> Resume:
    """Sort this sweep's trials (see the module docstring); look the open ones' jobs up on the control plane.

    `storage` is the study's (`hydra.sweeper.storage`, a URL or an Optuna storage).
    """
    from hydra_flyte.compat.optuna_private import reopen_trials
    from hydra_flyte.config.validation import compact
    from hydra_flyte.remote.resume import plan
    from hydra_flyte.remote.submit import ensure_endpoint

    running = optuna.trial.TrialState.RUNNING
    ours = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get(SWEEP_ATTR) == manifest.sweep_id and RESUME_ATTR not in t.user_attrs
    ]
    if not ours and manifest.jobs:
        raise ConfigurationError(
            f"cannot resume sweep {manifest.sweep_id}: the study {study.study_name!r} has none of its trials, "
            f"though its manifest has {len(manifest.jobs)} jobs. Resume with the hydra.sweeper.storage and "
            "hydra.sweeper.study_name the sweep was started with."
        )
    first = min((t.number for t in ours), default=None)
    unowned = [t.number for t in study.get_trials(deepcopy=False)
               if t.state == running and SWEEP_ATTR not in t.user_attrs and first is not None and t.number > first]  # fmt: skip
    if unowned:
        log.warning(
            f"trials {unowned} of study {study.study_name!r} are RUNNING and record no sweep: left alone (another "
            "process may be running them; if this sweep asked them, it stopped before recording them, and no run "
            "was submitted for them)"
        )
    resume = Resume()
    opened: list[Any] = []
    unsettled: list[int] = []  # finished trials whose job's outcome the manifest lacks
    for frozen in ours:
        job = frozen.user_attrs.get(JOB_ATTR)
        if frozen.state != running:
            resume.finished += 1
            if job in manifest.jobs and needs_refresh(manifest.jobs[job].phase):
                unsettled.append(job)
            if frozen.state.name == "FAIL":
                record = manifest.jobs.get(job)
                error = (record.error if record is not None else None) or "failed"
                resume.failures.append(
                    failed_return(
                        record.overrides if record is not None else [],
                        RuntimeError(f"trial {frozen.number} (job #{job}) failed before the resume: {error}"),
                    )
                )
        elif job in manifest.jobs:
            opened.append(frozen)
        else:
            (trial,) = reopen_trials(optuna, study, [frozen], storage=storage)
            trial.set_user_attr(RESUME_ATTR, NOT_SUBMITTED_MARK)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            resume.re_asked += 1
    numbered: Sequence[tuple[int, Sequence[str]]] = [
        (t.user_attrs[JOB_ATTR], manifest.jobs[t.user_attrs[JOB_ATTR]].overrides) for t in opened
    ]
    if numbered or unsettled:
        try:
            ensure_endpoint()
        except HydraFlyteError as exc:
            raise compact(exc) from None
    for job in unsettled:
        _refresh(resume, manifest, job)
    if numbered:
        looked_up = plan(manifest, numbered, max_workers=settings.submit_max_workers, rerun_failures=False)
        print(looked_up.summary(manifest), file=sys.stderr, flush=True)
        trials = reopen_trials(optuna, study, opened, storage=storage)
        for trial, (job, overrides) in zip(trials, numbered, strict=True):
            resume.open.append((job, trial, tuple(overrides), looked_up.existing.get(job)))
    print(resume.summary(), file=sys.stderr, flush=True)
    return resume


def _refresh(resume: Resume, manifest: Any, job: int) -> None:
    """A finished trial's job whose record is not settled: its run, to record (the study knows its outcome)."""
    from hydra_flyte.remote.ownership import lookup
    from hydra_flyte.remote.resume import is_ours

    record = manifest.jobs[job]
    run = lookup(record.run_name)
    if run is not None and is_ours(run, manifest.sweep_id, job):
        resume.refresh.append((job, tuple(record.overrides), run))
        return
    where = "is not on the control plane" if run is None else "on the control plane is another sweep's"
    log.warning(
        f"job #{job} was told to the study, but its run {record.run_name} {where}: its record stays {record.phase}"
    )
