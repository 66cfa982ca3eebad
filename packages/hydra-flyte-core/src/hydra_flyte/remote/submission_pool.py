"""Submitting many remote runs at once: bounded concurrency, retries with backoff, URLs as they land.

Transient failures (the control plane unreachable or timing out) are retried a few times; a full
quota (RESOURCE_EXHAUSTED) is waited out, for as long as remote.capacity allows.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

from hydra_flyte.remote.capacity import Capacity
from hydra_flyte.settings_schema import DEFAULTS

DEFAULT_SUBMIT_WORKERS: int = DEFAULTS["submit_max_workers"]
DEFAULT_SUBMIT_RETRIES = 3
# Error codes (connectrpc's Code names, or flyte's error codes) of failures worth retrying.
_TRANSIENT_CODES = {"unavailable", "resource_exhausted", "deadline_exceeded", "systemunavailableerror"}


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: the control plane unavailable, overloaded or timing out."""
    for cause in causes(exc):
        code = getattr(cause, "code", None)
        if str(getattr(code, "name", code) or "").lower() in _TRANSIENT_CODES:
            return True
        if isinstance(cause, (ConnectionError, TimeoutError)):
            return True
    return False


def is_quota(exc: BaseException) -> bool:
    """True when the control plane answered RESOURCE_EXHAUSTED (a quota is full): the job waits for capacity."""
    return _quota_error(exc) is not None


def _quota_error(exc: BaseException) -> BaseException | None:
    for cause in causes(exc):
        code = getattr(cause, "code", None)
        if str(getattr(code, "name", code) or "").lower() == "resource_exhausted":
            return cause
    return None


def _reason(exc: BaseException) -> str:
    """The control plane's own words for a full quota, on one line."""
    cause = _quota_error(exc) or exc
    text = " ".join(str(getattr(cause, "message", None) or cause).split())
    return f"RESOURCE_EXHAUSTED: {text[:200]}"


def call_with_retries(
    start: Callable[[], Any],
    *,
    retries: int = DEFAULT_SUBMIT_RETRIES,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    capacity: Capacity | None = None,
) -> Any:
    """`start()`, retried with exponential backoff (and jitter) while it fails transiently.

    RESOURCE_EXHAUSTED (a full quota) is not a failure: `start()` is tried again for as long as
    `capacity` (a launch's, or one of the default bound) lets it wait; then WaitingForCapacityError.
    """
    capacity = capacity or Capacity()
    attempt = 0
    waiting_since: float | None = None
    try:
        while True:
            try:
                run = start()
            except Exception as exc:
                if is_quota(exc):
                    reason = _reason(exc)
                    if waiting_since is None:
                        waiting_since = capacity.begin(reason)
                    capacity.pause(reason)
                    continue
                if attempt >= retries or not is_transient(exc):
                    raise
                sleep(backoff_seconds * (2**attempt) * (1 + random.random() / 4))
                attempt += 1
                continue
            capacity.got_in(waiting_since)
            waiting_since = None
            return run
    finally:
        if waiting_since is not None:
            capacity.gave_up()


class PendingRun:
    """A remote run being submitted: `result()` gives flyte's Run; attributes wait for it.

    `capacity`: its launch's wait for capacity (remote.capacity), when it has one.
    """

    def __init__(self, future: Future[Any], label: str, capacity: Capacity | None = None) -> None:
        self._future = future
        self.label = label
        self.capacity = capacity

    @property
    def future(self) -> Future[Any]:
        """The submission's future (its result: flyte's Run)."""
        return self._future

    def result(self) -> Any:
        return self._future.result()

    def done(self) -> bool:
        return self._future.done()

    def wait_done(self, timeout: float) -> None:
        """Block until the submission is done, `timeout` seconds at most."""
        futures_wait([self._future], timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.result(), name)

    def __repr__(self) -> str:
        state = "submitted" if self._future.done() else "submitting"
        return f"<PendingRun {self.label} ({state})>"


class SubmissionPool:
    """Runs submission callables on at most `max_workers` threads, retrying transient failures."""

    def __init__(
        self,
        *,
        max_workers: int | None = DEFAULT_SUBMIT_WORKERS,
        retries: int = DEFAULT_SUBMIT_RETRIES,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        capacity: Capacity | None = None,
    ) -> None:
        #: The launch's wait for capacity when the control plane's quota is full (remote.capacity).
        self.capacity = capacity or Capacity()
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers or 64, thread_name_prefix="hydra-flyte-submit"
        )
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._print_lock = threading.Lock()
        self._halted: BaseException | None = None

    def halt(self, reason: BaseException) -> None:
        """Submit nothing more: every submission not yet started fails with NotSubmittedError.

        The first reason is kept. Submissions already under way finish as they would.
        """
        with self._print_lock:
            if self._halted is None:
                self._halted = reason

    def submit(
        self, start: Callable[[], Any], *, label: str, on_submitted: Callable[[Any], None]
    ) -> PendingRun:
        """Start `start()` in the pool; `on_submitted(run)` is called as soon as it succeeds."""
        return PendingRun(self._executor.submit(self._attempt, start, on_submitted), label, self.capacity)

    def _attempt(self, start: Callable[[], Any], on_submitted: Callable[[Any], None]) -> Any:
        from hydra_flyte.errors import NotSubmittedError, WaitingForCapacityError

        if isinstance(self._halted, WaitingForCapacityError):  # not yet submitted, as the jobs that waited
            raise WaitingForCapacityError(f"not submitted: the sweep stopped submitting ({self._halted})")
        if self._halted is not None:
            clash = getattr(self._halted, "run_name", None)
            why = f"the run name clash of {clash!r} (see that job)" if clash else str(self._halted)
            raise NotSubmittedError(f"not submitted: the sweep stopped submitting after {why}")
        try:
            run = call_with_retries(
                start, retries=self._retries, backoff_seconds=self._backoff, sleep=self._sleep,
                capacity=self.capacity,
            )  # fmt: skip
        except WaitingForCapacityError as exc:
            if self.capacity.expired is not None:  # the bound passed: the jobs to come would wait in vain
                self.halt(exc)
            raise
        with self._print_lock:
            on_submitted(run)
        return run

    def close(self, *, cancel_queued: bool = False) -> None:
        """Wait for the submissions in flight; with `cancel_queued`, drop those not started yet.

        Dropping them also ends the waits for capacity: those jobs stay unsubmitted (PLANNED).
        """
        if cancel_queued:
            self.capacity.stop()
        self._executor.shutdown(wait=True, cancel_futures=cancel_queued)

    def __enter__(self) -> SubmissionPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # Leaving on an error or a Ctrl-C: submit nothing more (those jobs stay PLANNED, for --resume).
        self.close(cancel_queued=exc_type is not None)
