"""Reattaching to a remote sweep from its manifest: `sweep_status` (phases, results), `rerun_failed` and `abort_sweep`.

All three work from the manifest alone, hours after the sweep was submitted and from another
process: the runs are looked up by the names the manifest recorded. A local sweep's manifest is
complete when the sweep ends: `sweep_status` returns it as recorded, and `rerun_failed` and
`abort_sweep` refuse it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra_flyte.remote.contact import Contact
from hydra_flyte.settings_schema import DEFAULTS
from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import JobRecord, Manifest, find_manifest
from hydra_flyte.state.phases import NOT_SUBMITTED, PLANNED


def load_manifest(sweep: str | os.PathLike[str]) -> Manifest:
    """The manifest of `sweep`: a manifest path, a sweep directory or a sweep id."""
    from hydra_flyte.errors import ConfigurationError

    try:
        path = find_manifest(sweep)
    except FileNotFoundError as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        return Manifest.load(path)
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON, another format version, odd records
        raise ConfigurationError(
            f"{path} is not a hydra-flyte sweep manifest this version can read ({exc}); "
            "pass the flyte-sweep.json a sweep wrote."
        ) from exc


def local_rerun_message(manifest: Manifest) -> str:
    """Why a local sweep is not rerun, and what to do instead."""
    failed = [r.job for r in manifest.failed()]
    which = f" (failed: job {', '.join(map(str, failed))})" if failed else ""
    return (
        f"{manifest.path} is a local sweep{which}: its jobs ran on this machine, so there is no Flyte run to "
        "rerun from. Run the failed jobs again with the sweep's own command (with --local / mode=local and "
        "their overrides, listed by `flyte hydra status`), or run the sweep remotely to get reruns."
    )


def _lookup(record: JobRecord) -> Any:
    """The record's run on the control plane, or None if it was never created."""
    from hydra_flyte.remote.ownership import lookup

    return lookup(record.run_name)


def _disown(manifest: Manifest, record: JobRecord, clash: BaseException) -> None:
    """The run under the record's name is another sweep's: no run of this job exists under it."""
    manifest.disowned(record.job, error=str(clash))


def _collect(manifest: Manifest, record: JobRecord, run: Any, *, wait: bool, contact: Contact) -> None:
    """Bring one record up to date from its run (waiting for it first if asked).

    A run whose labels do not name this sweep and job is never taken for the job's: the record
    becomes SUBMIT_FAILED, with an error naming the sweep that owns the name.
    """
    from hydra_flyte.errors import ContactLostError, RunFailedError, RunNameClashError
    from hydra_flyte.remote.ownership import check_ours
    from hydra_flyte.remote.submit import wait_for

    if run is None:
        if record.phase == PLANNED:
            manifest.finished(
                record.job,
                phase=NOT_SUBMITTED,
                error=f"the control plane has no run named {record.run_name}: never submitted "
                "(the sweep stopped first, or its submission failed)",
            )
        return
    try:
        check_ours(run, sweep_id=manifest.sweep_id, job_num=record.job)
    except RunNameClashError as clash:
        _disown(manifest, record, clash)
        return
    if record.phase == PLANNED:
        manifest.submitted(record.job, run_name=run.name, url=run.url)
    if wait:
        try:
            result = wait_for(run, overrides=record.overrides, contact=contact)
        except ContactLostError as exc:  # we could not ask: unconfirmed, not failed
            manifest.finished(record.job, phase=ph.UNCONFIRMED, error=str(exc))
            raise
        except RunFailedError as exc:
            manifest.finished(record.job, phase=exc.phase, error=exc.message)
        else:
            manifest.finished(record.job, phase=ph.SUCCEEDED, value=result.value)
        return
    _record_current(manifest, record, run, contact=contact)


def _record_current(manifest: Manifest, record: JobRecord, run: Any, *, contact: Contact) -> None:
    """Record the phase the control plane gives `run` now: once it ended, its value or its error too."""
    from hydra_flyte.errors import RunFailedError
    from hydra_flyte.remote.submit import wait_for

    phase = ph.phase_name(run.phase)
    if ph.is_success(phase):
        manifest.finished(
            record.job,
            phase=ph.SUCCEEDED,
            value=wait_for(run, overrides=record.overrides, contact=contact).value,
        )
    elif ph.is_confirmed_terminal(phase):
        try:
            wait_for(run, contact=contact)
        except RunFailedError as exc:
            manifest.finished(record.job, phase=exc.phase, error=exc.message)
    else:
        manifest.phase_seen(record.job, phase)


def sweep_status(
    sweep: str | os.PathLike[str],
    *,
    wait: bool = False,
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
) -> Manifest:
    """Every job's current phase (and, once finished, its value or error), written back to the manifest.

    Every job not in a terminal phase the control plane confirmed is looked up again (PLANNED,
    SUBMITTED, QUEUED/RUNNING, UNCONFIRMED); SUCCEEDED, FAILED, ABORTED, TIMED_OUT, SUBMIT_FAILED
    and NOT_SUBMITTED are kept. With `wait=True`, waits for every unfinished run first. An
    unreachable control plane is retried for `reconnect_timeout_seconds`; then the jobs it could
    not confirm are recorded UNCONFIRMED and ContactLostError is raised. Needs the Flyte endpoint
    the sweep was submitted to (flyte.init / the default Flyte config). A local sweep's manifest is
    returned as recorded, with no control plane contacted.
    """
    from hydra_flyte.remote.submit import ensure_endpoint

    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        return manifest
    ensure_endpoint()
    if manifest.driver:  # a detached sweep: its jobs are child actions of one driver run
        return _refresh_detached(manifest, wait=wait, contact=Contact(reconnect_timeout_seconds))
    return _refresh(
        manifest, wait=wait, wait_max_workers=wait_max_workers, contact=Contact(reconnect_timeout_seconds)
    )


def _refresh_detached(manifest: Manifest, *, wait: bool, contact: Contact) -> Manifest:
    """A detached sweep's jobs from its driver run (hydra_flyte.durable.status); the manifest saved."""
    from hydra_flyte.durable.status import refresh

    if not any(ph.needs_refresh(r.phase) for r in manifest.records()):
        return manifest
    refresh(manifest, wait=wait, call=contact.call)
    return manifest


def _refresh(manifest: Manifest, *, wait: bool, wait_max_workers: int | None, contact: Contact) -> Manifest:
    """Update every unfinished record from the control plane, concurrently; save the manifest."""
    open_records = [r for r in manifest.records() if ph.needs_refresh(r.phase)]

    def update(record: JobRecord) -> None:
        run = contact.call(lambda: _lookup(record), what=f"looking up run {record.run_name}")
        _collect(manifest, record, run, wait=wait, contact=contact)

    workers = max(1, min(len(open_records), wait_max_workers or len(open_records) or 1))
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(update, open_records[n::workers], errors), daemon=True)
        for n in range(workers)
    ]
    try:  # daemon threads: a Ctrl-C here returns at once (the runs go on), the manifest is saved
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    finally:
        manifest.save()
    if errors:  # e.g. the control plane is unreachable: the caller learns why
        raise errors[0]
    return manifest


def _drain(update: Any, records: Sequence[JobRecord], errors: list[BaseException]) -> None:
    """Update each record in turn; the first error stops this worker and is kept for the caller."""
    try:
        for record in records:
            update(record)
    except Exception as exc:
        errors.append(exc)


def _rerun(manifest: Manifest, record: JobRecord) -> Any:
    """A new run of the record's failed run (None when that run is not this sweep's job).

    The failed run is looked up first: one whose labels name another sweep is never rerun (the
    record becomes SUBMIT_FAILED). An ALREADY_EXISTS for the new run's name is our own earlier
    attempt when its labels say so (its reply was lost), and is kept as the rerun.
    """
    import flyte

    from hydra_flyte.config.run_rules import JOB_LABEL, SWEEP_LABEL
    from hydra_flyte.errors import RunNameClashError
    from hydra_flyte.remote.ownership import adopt_existing, check_ours, confirm_created, is_already_exists
    from hydra_flyte.remote.submission_pool import call_with_retries

    source = _lookup(record)
    if source is None:
        print(
            f"job {record.job} not rerun: the control plane has no run named {record.run_name}.",
            file=sys.stderr,
            flush=True,
        )
        return None
    try:
        check_ours(source, sweep_id=manifest.sweep_id, job_num=record.job)
    except RunNameClashError as clash:
        _disown(manifest, record, clash)
        print(f"job {record.job} not rerun: {clash}", file=sys.stderr, flush=True)
        return None
    labels = {**manifest.labels, SWEEP_LABEL: manifest.sweep_id, JOB_LABEL: str(record.job)}
    new_name = rerun_name(record)
    runner = flyte.with_runcontext(mode="remote", name=new_name, labels=labels)

    def start() -> Any:
        try:
            run = runner.rerun(record.run_name)
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            return adopt_existing(new_name, exc, sweep_id=manifest.sweep_id, job_num=record.job)
        # An OK may carry a run that held the name already (the open-source control plane): ours only by its labels.
        return confirm_created(run, sweep_id=manifest.sweep_id, job_num=record.job, token=None)

    return call_with_retries(start)


def rerun_name(record: JobRecord) -> str:
    """`<first run's name>-r<attempt>`: stable across reruns, unique per attempt."""
    from hydra_flyte.config.run_rules import attempt_run_name

    first = record.attempts[0]["run_name"] if record.attempts else record.run_name
    return attempt_run_name(first or f"job-{record.job}", len(record.attempts) + 1)


def check_new_attempts(manifest: Manifest, names: dict[int, str]) -> None:
    """The run names of the jobs' new attempts (`--resume`, `rerun --failed`) and the sweep's labels, before any is sent."""
    from hydra_flyte.config.run_rules import JOB_LABEL, SWEEP_LABEL, check_metadata, check_run_name

    labels = {SWEEP_LABEL: manifest.sweep_id, JOB_LABEL: str(max(names, default=0))}
    check_metadata({"labels": manifest.labels}, labels=labels, where="every job's run", sweep=True)
    for job, name in sorted(names.items()):
        check_run_name(
            name,
            where=f"job {job}'s new attempt",
            fix=(
                "a new attempt is named after the job's first run (<its name>-r<attempt>), which leaves no room "
                "here: start a new sweep instead, with a shorter name (--name, run_options['name']) or none"
            ),
            sweep=True,
        )


def rerun_failed(
    sweep: str | os.PathLike[str],
    *,
    wait: bool = True,
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    jobs: Sequence[int] | None = None,
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
) -> Manifest:
    """Submit again the jobs that failed or were aborted, with the very inputs their runs had.

    Each failed run is re-run by Flyte from its own recorded task and inputs (so the composed
    config and task arguments are exactly the same), as a new run recorded in the same manifest;
    the old run moves to the job's `attempts`. With `wait=True` the new runs are waited on and
    their results collected. A local sweep has no runs to rerun from: ConfigurationError.
    """
    from hydra_flyte.errors import ConfigurationError, RunNameClashError
    from hydra_flyte.remote.submit import ensure_endpoint

    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        raise ConfigurationError(local_rerun_message(manifest))
    ensure_endpoint()
    if manifest.driver:
        from hydra_flyte.durable.rerun import rerun_detached

        rerun_detached(manifest, jobs=jobs)
        if wait:
            return _refresh_detached(manifest, wait=True, contact=Contact(reconnect_timeout_seconds))
        manifest.save()
        return manifest
    # Only runs the control plane says failed; refused or never submitted jobs have no run to
    # rerun from (`--resume` submits those anew).
    wanted = [r for r in manifest.records() if ph.is_rerunnable_failure(r.phase) and r.run_name]
    if jobs is not None:
        wanted = [r for r in wanted if r.job in set(jobs)]
    check_new_attempts(manifest, {r.job: rerun_name(r) for r in wanted})  # before the first is sent
    for record in wanted:
        try:
            run = _rerun(manifest, record)
        except RunNameClashError as clash:
            print(f"job {record.job} not rerun: {clash}", file=sys.stderr, flush=True)
            continue
        if run is None:
            continue
        print(
            f"Resubmitted job {record.job} ({' '.join(record.overrides)}): {run.url}",
            file=sys.stderr,
            flush=True,
        )
        manifest.resubmitted(record.job, run_name=run.name, url=run.url)
    if wait:
        return _refresh(
            manifest, wait=True, wait_max_workers=wait_max_workers, contact=Contact(reconnect_timeout_seconds)
        )
    manifest.save()
    return manifest


# -- abort_sweep: every run that has not ended aborted, and what the control plane confirmed recorded --

#: The reason recorded on each aborted run when the caller gives none.
DEFAULT_ABORT_REASON = "hydra-flyte: sweep aborted (abort_sweep)"
#: How long the control plane is given, once an abort is sent, to say the run has ended.
ABORT_CONFIRM_SECONDS = 30.0


@dataclass
class SweepAbort:
    """What `abort_sweep` did with each job not known to have ended; `manifest` records what the control plane confirmed.

    - `aborted`: jobs whose run the control plane now says is ABORTED (recorded so, with the reason);
    - `finished`: jobs whose run had ended before it could be aborted (their real phase and value or
      error recorded, as `sweep_status` records them);
    - `nothing_to_abort`: jobs with no run of this sweep on the control plane, each with why: never
      submitted (left PLANNED), or the name is another sweep's (SUBMIT_FAILED, as `sweep_status` says);
    - `unconfirmed`: jobs the control plane could not be reached for, or whose run had not ended when
      we stopped asking, each with why: their records are left as they were.
    """

    manifest: Manifest
    aborted: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    nothing_to_abort: dict[int, str] = field(default_factory=dict)
    unconfirmed: dict[int, str] = field(default_factory=dict)

    @property
    def confirmed(self) -> bool:
        """Every run of the sweep that had not ended is confirmed aborted (or there was nothing to abort)."""
        return not self.unconfirmed


def local_abort_message(manifest: Manifest) -> str:
    """Why a local sweep is not aborted."""
    return (
        f"{manifest.path} is a local sweep: its jobs ran on this machine, so no run of it is on a control plane "
        "to abort. A local sweep is stopped with Ctrl-C while it runs (its manifest then records the job it "
        "stopped as aborted, and the jobs it did not start as not submitted)."
    )


def abort_sweep(
    sweep: str | os.PathLike[str],
    *,
    reason: str = DEFAULT_ABORT_REASON,
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
    confirm_timeout_seconds: float = ABORT_CONFIRM_SECONDS,
) -> SweepAbort:
    """Abort every run of a remote sweep that has not ended, and record in its manifest what the control plane confirmed.

    `sweep` is a manifest path, its sweep directory or a sweep id, as for `sweep_status`. Each job
    not in a settled phase is looked up by its run name (`wait_max_workers` at a time). A run that is
    this sweep's (its labels say so) and has not ended is aborted with `reason`, and its phase read
    back for up to `confirm_timeout_seconds`: ABORTED is recorded, and so is a run that ended first
    (its real phase and value or error, as `sweep_status` records them). A job with no run on the
    control plane is left as it is (PLANNED: not submitted, nothing to abort); a run under a job's
    name that is another sweep's is never aborted (the job becomes SUBMIT_FAILED, as `sweep_status`
    says). A job the control plane cannot be reached for (retried for `reconnect_timeout_seconds`)
    is left as it was and reported in `SweepAbort.unconfirmed`.

    A detached sweep (one driver run for every job, `Manifest.driver`) is aborted through that one
    run: the control plane aborts the jobs' child actions with it. Once it says the driver run has
    ended, each job is recorded as `sweep_status` records a detached sweep's: a job that ended first
    keeps its own phase, a job cut short is recorded ABORTED.

    Progress goes to stderr, one line per job. ConfigurationError for a local sweep (nothing of it is
    on a control plane); NoEndpointError when no endpoint is configured or it does not answer.
    """
    from hydra_flyte.errors import ConfigurationError
    from hydra_flyte.remote.submit import ensure_endpoint

    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        raise ConfigurationError(local_abort_message(manifest))
    ensure_endpoint()
    abort = _Abort(
        manifest,
        reason=reason,
        contact=Contact(reconnect_timeout_seconds),
        confirm_seconds=confirm_timeout_seconds,
    )
    try:
        abort.run(wait_max_workers)
    finally:
        manifest.save()
    return abort.outcome


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _why(exc: BaseException) -> str:
    """An error in one clipped line: why a job was left unconfirmed."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text if len(text) <= 240 else text[:239] + '…'}"


class _Abort:
    """One `abort_sweep`: each job's run aborted (or the driver run, for a detached sweep), each outcome noted."""

    def __init__(self, manifest: Manifest, *, reason: str, contact: Contact, confirm_seconds: float) -> None:
        self.manifest = manifest
        self.reason = reason
        self.contact = contact
        self.confirm_seconds = confirm_seconds
        self.outcome = SweepAbort(manifest)
        self._lock = threading.Lock()

    def run(self, max_workers: int | None) -> None:
        open_records = [r for r in self.manifest.records() if ph.needs_refresh(r.phase)]
        if not open_records:
            _say("Nothing to abort: every job of the sweep has ended or never ran.")
            return
        driver = getattr(self.manifest, "driver", None)
        if isinstance(driver, dict) and driver.get("run_name"):
            self.driver(str(driver["run_name"]), open_records)
        else:
            _in_threads(self.job, open_records, max_workers)
        out = self.outcome
        out.aborted.sort()
        out.finished.sort()
        out.nothing_to_abort = dict(sorted(out.nothing_to_abort.items()))
        out.unconfirmed = dict(sorted(out.unconfirmed.items()))

    # -- what became of each job ------------------------------------------------------------
    def aborted(self, record: JobRecord, text: str) -> None:
        with self._lock:
            self.outcome.aborted.append(record.job)
        _say(f"job {record.job}: {text}")

    def finished(self, record: JobRecord, text: str) -> None:
        with self._lock:
            self.outcome.finished.append(record.job)
        _say(f"job {record.job}: {text}")

    def nothing(self, record: JobRecord, why: str) -> None:
        with self._lock:
            self.outcome.nothing_to_abort[record.job] = why
        _say(f"job {record.job}: {why}")

    def unconfirmed(self, record: JobRecord, why: str) -> None:
        with self._lock:
            self.outcome.unconfirmed[record.job] = why
        _say(f"job {record.job}: unconfirmed, left as recorded ({record.phase}): {why}")

    # -- one run per job ----------------------------------------------------------------------
    def job(self, record: JobRecord) -> None:
        try:
            self._job(record)
        except Exception as exc:  # unreachable past the limit, or the control plane refused: as it was
            self.unconfirmed(record, _why(exc))

    def _job(self, record: JobRecord) -> None:
        from hydra_flyte.errors import RunNameClashError
        from hydra_flyte.remote.ownership import check_ours, lookup

        name = record.run_name
        run = self.contact.call(lambda: lookup(name), what=f"looking up run {name}") if name else None
        if run is None:
            if record.phase == PLANNED:
                self.nothing(
                    record, "not submitted, nothing to abort" + (f" (no run named {name})" if name else "")
                )
            else:
                self.nothing(record, f"the control plane has no run named {name}: nothing to abort")
            return
        try:
            self.contact.call(
                lambda: check_ours(run, sweep_id=self.manifest.sweep_id, job_num=record.job),
                what=f"reading the labels of run {name}",
            )
        except RunNameClashError as clash:
            _disown(self.manifest, record, clash)
            self.nothing(record, f"not aborted, run {name} is not this sweep's: {clash}")
            return
        if record.phase == PLANNED:  # its submission landed after all
            self.manifest.submitted(record.job, run_name=run.name, url=run.url)
        if ph.is_confirmed_terminal(run.phase):
            _record_current(self.manifest, record, run, contact=self.contact)
            self.finished(record, f"run {name} had already ended: {ph.recorded_phase(run.phase)}")
            return
        self.contact.call(lambda: run.abort(reason=self.reason), what=f"aborting run {name}")
        ended = self.read_back(run.name)
        if ended is None:
            self.unconfirmed(
                record, f"the abort of run {name} was sent, then the control plane no longer had it"
            )
            return
        phase = ph.recorded_phase(ended.phase)
        if not ph.is_confirmed_terminal(phase):
            self.manifest.phase_seen(record.job, phase)
            self.unconfirmed(
                record,
                f"the abort of run {name} was sent, and {self.confirm_seconds:g} s later the control plane "
                f"still says {phase}",
            )
            return
        _record_current(self.manifest, record, ended, contact=self.contact)
        if phase == ph.ABORTED:
            self.aborted(record, f"aborted run {name}")
        else:
            self.finished(record, f"run {name} had already ended: {phase}")

    def read_back(self, name: str) -> Any:
        """The run called `name` once the control plane says it has ended, or as it is when the time is up."""
        from hydra_flyte.remote.ownership import lookup

        deadline = time.monotonic() + self.confirm_seconds
        pause = 0.1
        while True:
            run = self.contact.call(lambda: lookup(name), what=f"reading back the phase of run {name}")
            left = deadline - time.monotonic()
            if run is None or ph.is_confirmed_terminal(run.phase) or left <= 0:
                return run
            time.sleep(min(pause, left))
            pause = min(pause * 2, 2.0)

    # -- a detached sweep: one driver run ------------------------------------------------------
    def driver(self, name: str, records: list[JobRecord]) -> None:
        _say(f"Aborting the sweep's driver run {name}: the control plane aborts its jobs with it.")
        try:
            self._driver(name, records)
        except Exception as exc:  # unreachable past the limit, or the control plane refused: as they were
            for record in records:
                self.unconfirmed(record, _why(exc))

    def _driver(self, name: str, records: list[JobRecord]) -> None:
        from hydra_flyte.config.run_rules import SWEEP_LABEL
        from hydra_flyte.remote.ownership import labels_of, lookup

        run = self.contact.call(lambda: lookup(name), what=f"looking up the sweep's driver run {name}")
        if run is None:
            for record in records:
                self.nothing(
                    record,
                    f"the control plane has no run named {name} (the sweep's driver): nothing to abort",
                )
            return
        labels = self.contact.call(lambda: labels_of(run), what=f"reading the labels of run {name}")
        if labels.get(SWEEP_LABEL) != self.manifest.sweep_id:
            owner = labels.get(SWEEP_LABEL) or "no hydra-flyte sweep"
            for record in records:
                self.nothing(
                    record, f"not aborted, run {name} is not this sweep's driver (its labels name {owner})"
                )
            return
        sent = not ph.is_confirmed_terminal(run.phase)
        if sent:
            self.contact.call(
                lambda: run.abort(reason=self.reason), what=f"aborting the sweep's driver run {name}"
            )
            run = self.read_back(name)
            if run is None:
                for record in records:
                    self.unconfirmed(
                        record, f"the abort of run {name} was sent, then the control plane no longer had it"
                    )
                return
        phase = ph.recorded_phase(run.phase)
        if not ph.is_confirmed_terminal(phase):
            for record in records:
                self.unconfirmed(
                    record,
                    f"the abort of the sweep's driver run {name} was sent, and {self.confirm_seconds:g} s later the "
                    f"control plane still says {phase}",
                )
            return
        # The driver run has ended: each job is recorded as `status` records it, from its child action
        # (a job that ended first keeps its own phase) or, for a job cut short, the driver's phase.
        _refresh_detached(self.manifest, wait=False, contact=self.contact)
        for record in records:
            now = record.phase
            if not ph.is_confirmed_terminal(now):
                self.unconfirmed(
                    record, f"the sweep's driver run {name} ended {phase}, but no end of this job was read"
                )
            elif sent and now == ph.ABORTED:
                self.aborted(record, f"aborted with the sweep's driver run {name}")
            else:
                self.finished(record, f"had already ended: {now}")


def _in_threads(
    work: Callable[[JobRecord], None], records: Sequence[JobRecord], max_workers: int | None
) -> None:
    """`work(record)` for every record, `max_workers` at a time; a Ctrl-C here returns at once."""
    workers = max(1, min(len(records), max_workers or len(records) or 1))
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(work, records[n::workers], errors), daemon=True)
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    if errors:
        raise errors[0]
