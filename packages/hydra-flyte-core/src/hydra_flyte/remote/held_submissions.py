"""Submissions held back until every job of a launch has been composed and validated.

A remote sweep runs each job's task function in turn (it applies task_env, checks the inputs
and run options, and asks for a submission). `HeldSubmissions` keeps each request instead of
starting it; once every job has run, the launcher either releases them all into the
SubmissionPool (which submits them concurrently) or, if any job was invalid, cancels them all:
nothing reaches the control plane.

A script that reads a run's attributes inside its own job (`run = flyte.run(...); print(run.url)`)
needs that run now: reading it starts that one submission at once, as it would have started
without holding.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from hydra_flyte.remote.submission_pool import PendingRun


class HeldRun(PendingRun):
    """A PendingRun whose submission waits for `HeldSubmissions.release` (or starts when it is read)."""

    def __init__(self, future: Future[Any], label: str, held: HeldSubmissions) -> None:
        super().__init__(future, label, getattr(held._pool, "capacity", None))
        self._held = held

    def result(self) -> Any:
        self._held.start_now(self)
        try:
            return super().result()
        except CancelledError:
            raise self._held.cancelled_because() from None


class HeldSubmissions:
    """Collects submissions for `pool` and starts them on `release()`; `cancel()` drops them all."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._queued: list[tuple[HeldRun, Callable[[], Any], Callable[[Any], None]]] = []
        self._released = False
        self._reason: BaseException | None = None

    def submit(
        self, start: Callable[[], Any], *, label: str, on_submitted: Callable[[Any], None]
    ) -> PendingRun:
        """Like SubmissionPool.submit; before `release()` the submission is only recorded."""
        with self._lock:
            if self._released:
                return self._pool.submit(start, label=label, on_submitted=on_submitted)  # type: ignore[no-any-return]
            run = HeldRun(Future(), label, self)
            self._queued.append((run, start, on_submitted))
            return run

    def __len__(self) -> int:
        return len(self._queued)

    def release(self) -> None:
        """Start every held submission (in the order they were asked for)."""
        with self._lock:
            self._released = True
            queued, self._queued = self._queued, []
        for run, start, on_submitted in queued:
            self._start(run, start, on_submitted)

    def cancel(self, reason: BaseException) -> None:
        """Drop every held submission; reading one of them raises `reason`."""
        with self._lock:
            self._released = True
            self._reason = reason
            queued, self._queued = self._queued, []
        for run, _, _ in queued:
            run.future.cancel()

    def halt(self, reason: BaseException) -> None:
        """Submit nothing more (SubmissionPool.halt): what is not yet started fails with NotSubmittedError."""
        self._pool.halt(reason)

    def cancelled_because(self) -> BaseException:
        """What reading a cancelled run raises: the reason given, if an error (a Ctrl-C is not re-raised)."""
        if isinstance(self._reason, Exception):
            return self._reason
        return CancelledError("the submission was cancelled before it started")

    def start_now(self, run: HeldRun) -> None:
        """Start `run`'s submission if it is still held (someone needs its result now)."""
        with self._lock:
            found = next((i for i, entry in enumerate(self._queued) if entry[0] is run), None)
            if found is None:
                return
            _, start, on_submitted = self._queued.pop(found)
        self._start(run, start, on_submitted)

    def _start(self, run: HeldRun, start: Callable[[], Any], on_submitted: Callable[[Any], None]) -> None:
        inner = self._pool.submit(start, label=run.label, on_submitted=on_submitted)
        outer = run.future

        def copy(done: Future[Any]) -> None:
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.future.add_done_callback(copy)


def remote_submission(settings: Any, stack: contextlib.ExitStack) -> HeldSubmissions | None:
    """For remote mode: a pool submitting concurrently (held until released), the code bundle and task spec
    built once for the launch (entered on `stack`); None for local mode and dry runs.

    Every launch, dry runs and local ones included, also initialises flyte once for the jobs' repeated
    `flyte.init_from_config()` (remote.repeated_init): about 0.1 s a job otherwise.
    """
    from hydra_flyte.remote.repeated_init import init_from_config_reused

    stack.enter_context(init_from_config_reused())
    if settings.mode != "remote" or settings.dry_run:
        return None
    from hydra_flyte.compat.flyte_private import builds_shared_by_submissions
    from hydra_flyte.remote.capacity import Capacity
    from hydra_flyte.remote.submission_pool import SubmissionPool

    stack.enter_context(builds_shared_by_submissions())
    capacity = Capacity(settings.capacity_timeout_seconds)
    pool = SubmissionPool(max_workers=settings.submit_max_workers, capacity=capacity)
    return HeldSubmissions(stack.enter_context(pool))
