"""Finishing a launch's jobs: wait for remote runs concurrently, report progress, stop early when asked.

Waiting happens on daemon threads, so a Ctrl-C in the main thread ends the wait at once (the runs
go on unless the caller aborts them). With `fail_fast`, the first failure aborts every run still
going. Progress goes to stderr (stdout carries results only): a live line on a terminal, sparse
plain lines otherwise.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from hydra_flyte.errors import ContactLostError
from hydra_flyte.remote.contact import DEFAULT_RECONNECT_TIMEOUT_SECONDS, Contact
from hydra_flyte.remote.submission_pool import PendingRun
from hydra_flyte.remote.submit import JobSpec, finish, is_flyte_run


class Progress:
    """Counts of a launch's runs (submitted, queued, running, succeeded, failed), shown as they change.

    `local`: the jobs run one after the other in this process, so the line counts jobs done.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        interval_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        local: bool = False,
    ) -> None:
        self.total = total
        self.local = local
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.counts = {"submitted": 0, "queued": 0, "running": 0, "succeeded": 0, "failed": 0}
        self._interval = interval_seconds
        self._clock = clock
        self._last: float | None = None  # when the last plain line was printed; None: none yet
        self._lock = threading.Lock()

    def line(self) -> str:
        c = self.counts
        if self.local:
            done = c["succeeded"] + c["failed"]
            return (
                f"[hydra-flyte] {done}/{self.total} jobs done, {c['running']} running, "
                f"{c['succeeded']} succeeded, {c['failed']} failed"
            )
        return (
            f"[hydra-flyte] {c['submitted']}/{self.total} submitted, {c['queued']} queued, {c['running']} running, "
            f"{c['succeeded']} succeeded, {c['failed']} failed"
        )

    def submitted(self) -> None:
        self._change(submitted=1, queued=1)

    def started(self) -> None:
        self._change(queued=-1, running=1)

    def local_job_started(self) -> None:
        self._change(running=1)

    def local_job_finished(self, *, ok: bool) -> None:
        self._change(running=-1, **{"succeeded" if ok else "failed": 1})

    def finished(self, *, ok: bool, started: bool, submitted: bool = True) -> None:
        changes = {"succeeded" if ok else "failed": 1}
        if submitted:
            changes["running" if started else "queued"] = -1
        self._change(**changes)

    def _change(self, **changes: int) -> None:
        with self._lock:
            for key, delta in changes.items():
                self.counts[key] += delta
            done = self.counts["succeeded"] + self.counts["failed"] == self.total
            now = self._clock()
            if self.live:
                self.stream.write("\r\x1b[2K" + self.line() + ("\n" if done else ""))
                self.stream.flush()
            elif done or self._last is None or now - self._last >= self._interval:
                self._last = now
                print(self.line(), file=self.stream, flush=True)


def finish_all(
    items: Sequence[tuple[Any, JobSpec]],
    *,
    max_workers: int | None,
    fail_fast: bool = False,
    on_finished: Callable[[int, Any], None] | None = None,
    progress: Progress | None = None,
) -> list[Any]:
    """Finish every job's value; remote runs are waited on concurrently, at most `max_workers` at a time.

    Returns one entry per item, in order: the result, or the exception that job ended with. Every
    submission lands before any waiting starts, unless the control plane's quota keeps some out
    (remote.capacity): then the runs already in are waited on meanwhile, each job's submission
    resolved by its waiter, so that a run's end (its duration, its value, a fail_fast) is seen
    when it happens, not once the last job got in; and as each run ends, a job waiting for
    capacity tries at once (the run no longer counts against the quota). `on_finished(index, outcome)` is called as
    each job finishes. A KeyboardInterrupt stops the waiting (the daemon waiters are left behind).
    """
    outcomes: list[Any] = [None] * len(items)
    settled: list[tuple[Any, JobSpec] | None] = []
    quota_met = False
    capacity_of: dict[int, Any] = {}  # the launch's wait for capacity, told when one of its runs ends
    for index, (value, job) in enumerate(items):
        if isinstance(value, PendingRun):
            if value.capacity is not None:
                capacity_of[index] = value.capacity
            quota_met = quota_met or _landed_or_quota_met(value)
            if quota_met and not value.done() and _waited_on(job):
                settled.append((value, job))  # its waiter resolves the submission, then waits for the run
                continue
            try:
                value = value.result()
            except Exception as exc:  # the submission itself failed: the control plane's message
                outcomes[index] = exc
                settled.append(None)
                if progress is not None:
                    progress.finished(ok=False, started=False, submitted=False)
                if on_finished:
                    on_finished(index, exc)
                continue
        settled.append((value, job))

    # One outage clock for the whole sweep: its runs share one control plane.
    first = next((job for _, job in items), None)
    contact = Contact(
        first.settings.reconnect_timeout_seconds if first is not None else DEFAULT_RECONNECT_TIMEOUT_SECONDS
    )

    def one(item: tuple[Any, JobSpec]) -> Any:
        try:
            return finish(*item, contact=contact)
        except Exception as exc:
            return exc

    waiting: list[int] = []
    for index, item in enumerate(settled):
        if item is None:
            continue
        value, job = item
        if isinstance(value, PendingRun) or (is_flyte_run(value) and _waited_on(job)):
            waiting.append(index)
        else:
            outcomes[index] = one(item)
            if on_finished:
                on_finished(index, outcomes[index])
    if not waiting:
        return outcomes

    started: set[int] = set()
    work: queue.Queue[int] = queue.Queue()
    done: queue.Queue[tuple[int, Any, bool]] = queue.Queue()  # (index, outcome, whether it was submitted)
    for index in waiting:
        work.put(index)
    aborted = threading.Event()

    def waiter() -> None:
        while True:
            try:
                index = work.get_nowait()
            except queue.Empty:
                return
            value, job = settled[index]  # type: ignore[misc]
            if isinstance(value, PendingRun):  # still being submitted when the waiting began
                try:
                    value = value.result()
                except Exception as exc:  # noqa: BLE001 - the submission's own error is the job's outcome
                    done.put((index, exc, False))
                    continue
                settled[index] = (value, job)
                if aborted.is_set():  # fail_fast stopped the sweep while this job was getting in
                    abort_runs([value], reason="fail_fast: the sweep stopped (a job failed)")
            run = value
            if progress is not None and progress.live:
                try:
                    run.wait(quiet=True, wait_for="running")
                    started.add(index)
                    progress.started()
                except Exception:
                    pass  # the terminal wait below reports what happened
            outcome = one((run, job))
            if (
                index in capacity_of
            ):  # it no longer counts against the quota: a waiting job may take its place
                capacity_of[index].room_freed()
            done.put((index, outcome, True))

    workers = len(waiting) if max_workers is None else min(max_workers, len(waiting))
    for n in range(workers):
        threading.Thread(target=waiter, name=f"hydra-flyte-wait-{n}", daemon=True).start()

    remaining = set(waiting)

    def settle(index: int, outcome: Any, submitted: bool = True) -> None:
        remaining.discard(index)
        outcomes[index] = outcome
        if progress is not None:
            progress.finished(
                ok=not isinstance(outcome, BaseException), started=index in started, submitted=submitted
            )
        if on_finished:
            on_finished(index, outcome)
        failed = isinstance(outcome, BaseException) and not isinstance(outcome, ContactLostError)
        if fail_fast and failed and not aborted.is_set():
            aborted.set()
            abort_runs(
                [settled[i][0] for i in remaining], reason=f"fail_fast: job {items[index][1].label} failed"
            )  # type: ignore[index]

    while remaining:
        try:
            index, outcome, submitted = done.get(timeout=0.5)
        except queue.Empty:
            if contact.expired():  # no answer for longer than the limit: stop waiting on every run left
                for index in sorted(remaining):
                    value = settled[index][0]  # type: ignore[index]
                    if not isinstance(value, PendingRun):  # one still getting in is not waited on yet
                        settle(index, contact.lost(value))
            continue
        if index in remaining:
            settle(index, outcome, submitted)
    return outcomes


def _waited_on(job: JobSpec) -> bool:
    """Whether this job's run, once submitted, is waited on here (remote and `wait`)."""
    return job.settings.mode == "remote" and job.settings.wait


def _landed_or_quota_met(pending: PendingRun) -> bool:
    """Block until `pending` is submitted; True (at once) if jobs of its launch are waiting for capacity."""
    while not pending.done():
        if pending.capacity is not None and pending.capacity.waiting:
            return True
        pending.wait_done(0.1)
    return False


def abort_runs(runs: Sequence[Any], *, reason: str) -> list[Any]:
    """Abort every run that has not finished, concurrently; returns the runs an abort was sent to.

    A submission still under way (a PendingRun not landed yet) is aborted the moment it lands: left
    alone, its run would go on to the end after the sweep stopped (and a sweep waiting for it, wait).
    """
    for run in runs:
        if isinstance(run, PendingRun) and not run.done():
            run.future.add_done_callback(lambda _, pending=run: _abort_when_landed(pending, reason))
    submitted = [_submitted_run(run) for run in runs]
    targets = [run for run in submitted if is_flyte_run(run) and not _done(run)]
    threads = [threading.Thread(target=_abort_quietly, args=(run, reason), daemon=True) for run in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return targets


def _submitted_run(value: Any) -> Any:
    """The flyte Run behind a (landed) PendingRun; anything else as it is."""
    if isinstance(value, PendingRun):
        try:
            return value.result() if value.done() else None
        except Exception:
            return None
    return value


def _abort_when_landed(pending: PendingRun, reason: str) -> None:
    """A submission that landed after its sweep stopped: abort its run (a failed submission has none)."""
    try:
        run = pending.result()
    except BaseException:  # noqa: BLE001 - nothing was created: nothing to abort
        return
    if is_flyte_run(run) and not _done(run):
        _abort_quietly(run, reason)


def _done(run: Any) -> bool:
    try:
        return bool(run.done())
    except Exception:
        return False


def _abort_quietly(run: Any, reason: str) -> None:
    try:
        run.abort(reason=reason)
    except Exception as exc:  # already finished, or the control plane is gone: say so, carry on
        print(f"could not abort {getattr(run, 'name', run)}: {exc}", file=sys.stderr)
