"""`abort_sweep`: every run of a remote sweep that has not ended aborted, and what the control plane confirmed recorded.

It works from the manifest alone, as `sweep_status` does (remote.reattach), and refuses a local
sweep's manifest (nothing of it runs on a control plane).
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
from hydra_flyte.remote.reattach import disown, drain, load_manifest, record_current, refresh_detached
from hydra_flyte.settings_schema import DEFAULTS
from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import JobRecord, Manifest
from hydra_flyte.state.phases import PLANNED

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
            disown(self.manifest, record, clash)
            self.nothing(record, f"not aborted, run {name} is not this sweep's: {clash}")
            return
        if record.phase == PLANNED:  # its submission landed after all
            self.manifest.submitted(record.job, run_name=run.name, url=run.url)
        if ph.is_confirmed_terminal(run.phase):
            record_current(self.manifest, record, run, contact=self.contact)
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
        record_current(self.manifest, record, ended, contact=self.contact)
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
        refresh_detached(self.manifest, wait=False, contact=self.contact)
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
        threading.Thread(target=drain, args=(work, records[n::workers], errors), daemon=True)
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    if errors:
        raise errors[0]
