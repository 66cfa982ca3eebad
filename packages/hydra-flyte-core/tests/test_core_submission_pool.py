"""The submission pool: bounded concurrency, retries of transient failures only, URLs as runs land."""

from __future__ import annotations

import io
import threading
import time

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from hydra_flyte.remote.capacity import Capacity
from hydra_flyte.remote.submission_pool import PendingRun, SubmissionPool, call_with_retries, is_transient


def unavailable() -> Exception:
    import flyte.errors

    error = flyte.errors.RuntimeSystemError(
        "SystemUnavailableError", "Flyte system is currently unavailable."
    )
    error.__cause__ = ConnectError(Code.UNAVAILABLE, "injected")
    return error


def test_transient_failures_are_recognised() -> None:
    assert is_transient(unavailable())
    assert is_transient(ConnectError(Code.RESOURCE_EXHAUSTED, "busy"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ConnectError(Code.INVALID_ARGUMENT, "bad"))
    assert not is_transient(ValueError("a task bug"))


def test_retries_transient_failures_then_succeeds() -> None:
    attempts, sleeps = [], []

    def start() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise unavailable()
        return "run"

    assert call_with_retries(start, retries=3, backoff_seconds=0.5, sleep=sleeps.append) == "run"
    assert len(attempts) == 3
    assert 0.5 <= sleeps[0] < sleeps[1] and sleeps[1] >= 1.0


def test_gives_up_after_the_retries_with_the_control_planes_error() -> None:
    with pytest.raises(Exception, match="currently unavailable"):
        call_with_retries(lambda: (_ for _ in ()).throw(unavailable()), retries=2, sleep=lambda _: None)


def test_does_not_retry_a_permanent_failure() -> None:
    attempts = []

    def start() -> str:
        attempts.append(1)
        raise ConnectError(Code.INVALID_ARGUMENT, "bad task spec")

    with pytest.raises(ConnectError):
        call_with_retries(start, retries=3, sleep=lambda _: None)
    assert attempts == [1]


def test_pool_bounds_concurrency_and_announces_each_run() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()
    announced: list[str] = []

    def make(i: int):  # noqa: ANN202
        def start() -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            return f"run-{i}"

        return start

    with SubmissionPool(max_workers=3) as pool:
        pending = [pool.submit(make(i), label=str(i), on_submitted=announced.append) for i in range(12)]
        assert all(isinstance(p, PendingRun) for p in pending)
        assert [p.result() for p in pending] == [f"run-{i}" for i in range(12)]
    assert peak <= 3
    assert sorted(announced) == sorted(f"run-{i}" for i in range(12))


def test_a_failed_submission_is_the_jobs_error_and_the_others_continue() -> None:
    def start_ok() -> str:
        return "ok"

    def start_bad() -> str:
        raise ConnectError(Code.PERMISSION_DENIED, "no access to project x")

    with SubmissionPool(max_workers=2, retries=0) as pool:
        bad = pool.submit(start_bad, label="bad", on_submitted=lambda _: None)
        good = pool.submit(start_ok, label="good", on_submitted=lambda _: None)
        with pytest.raises(ConnectError, match="no access to project x"):
            bad.result()
        assert good.result() == "ok"


# -- a full quota is waited out (remote.capacity) -----------------------------------------------


def quota_full() -> Exception:
    """What flyte.run raises for RESOURCE_EXHAUSTED on CreateRun: RunCreationError from the ConnectError."""
    import flyte.errors

    error = flyte.errors.RuntimeSystemError("RunCreationError", "Failed to create run: quota exceeded")
    error.__cause__ = ConnectError(
        Code.RESOURCE_EXHAUSTED, "quota exceeded: at most 3 unfinished runs at a time"
    )
    return error


def fast_capacity(timeout: float = 60.0, **kwargs: object) -> Capacity:
    stream = io.StringIO()
    return Capacity(timeout, base_seconds=0.001, max_backoff_seconds=0.005, stream=stream, **kwargs)  # type: ignore[arg-type]


def test_a_full_quota_is_waited_out_not_counted_as_retries() -> None:
    answers = [quota_full()] * 20 + ["run"]
    capacity = fast_capacity()

    def start() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(start, retries=0, capacity=capacity) == "run", "20 refusals, 0 retries allowed"
    assert len(capacity.waits) == 1 and capacity.waits[0] > 0
    lines = capacity._stream.getvalue().splitlines()  # type: ignore[union-attr]
    assert "quota is full (RESOURCE_EXHAUSTED: quota exceeded: at most 3 unfinished runs" in lines[0]
    assert "not submitted yet" in lines[0]
    assert "every job waiting got in (1 waited so far" in lines[-1]


def test_the_wait_is_bounded_and_the_jobs_stay_unsubmitted() -> None:
    from hydra_flyte.engine.outcomes import submission_failure_phase
    from hydra_flyte.errors import WaitingForCapacityError

    capacity = fast_capacity(timeout=0.05)

    def start() -> str:
        raise quota_full()

    with pytest.raises(WaitingForCapacityError, match=r"quota stayed full for 0.05 s") as info:
        call_with_retries(start, capacity=capacity)
    assert submission_failure_phase(info.value) == "PLANNED", "not yet submitted: --resume submits it"
    assert capacity.expired is not None


def test_the_bound_counts_from_the_last_submission_that_got_in() -> None:
    """While other jobs get in, capacity is moving: a job waiting longer than the bound keeps waiting."""
    capacity = fast_capacity(timeout=0.3)
    stop = threading.Event()

    def others() -> None:
        while not stop.is_set():
            capacity.got_in(None)
            time.sleep(0.02)

    thread = threading.Thread(target=others)
    thread.start()
    refusals = iter(range(200))

    def start() -> str:
        if next(refusals) < 150:  # 150 waits of 1-5 ms: well past 0.3 s in all
            raise quota_full()
        return "run"

    try:
        started = time.monotonic()
        assert call_with_retries(start, capacity=capacity) == "run"
        assert time.monotonic() - started > 0.3
    finally:
        stop.set()
        thread.join()


def test_a_pool_past_the_bound_stops_submitting_and_a_stop_ends_every_wait() -> None:
    from hydra_flyte.errors import WaitingForCapacityError

    calls: list[int] = []

    def refused() -> str:
        calls.append(1)
        raise quota_full()

    with SubmissionPool(max_workers=1, capacity=fast_capacity(timeout=0.05)) as pool:
        first = pool.submit(refused, label="0", on_submitted=lambda run: None)
        later = pool.submit(refused, label="1", on_submitted=lambda run: None)
        with pytest.raises(WaitingForCapacityError):
            first.result()
        with pytest.raises(WaitingForCapacityError, match="stopped submitting"):
            later.result()
    count = len(calls)
    assert count > 1, "the first job tried again"

    pool = SubmissionPool(max_workers=2, capacity=fast_capacity(timeout=3600))
    waiting = pool.submit(refused, label="w", on_submitted=lambda run: None)
    time.sleep(0.05)
    started = time.monotonic()
    pool.close(cancel_queued=True)  # what a Ctrl-C does
    assert time.monotonic() - started < 5
    with pytest.raises(WaitingForCapacityError, match="stopped while it waited for capacity"):
        waiting.result()


def test_while_the_quota_stays_full_one_job_probes_and_a_freed_slot_is_taken_at_once() -> None:
    """Eight jobs turned away: one probes with backoff, the rest send nothing; `room_freed` lets one in now."""
    capacity = Capacity(3600, base_seconds=0.05, max_backoff_seconds=0.05, stream=io.StringIO())
    room = threading.Semaphore(0)
    tries: list[float] = []
    lock = threading.Lock()

    def start() -> str:
        with lock:
            tries.append(time.monotonic())
        if not room.acquire(blocking=False):
            raise quota_full()
        return "run"

    with SubmissionPool(max_workers=8, capacity=capacity) as pool:
        pending = [pool.submit(start, label=str(n), on_submitted=lambda run: None) for n in range(8)]
        time.sleep(1.0)
        first_second = len(tries)
        assert first_second < 8 + 30, f"{first_second} tries in 1 s: the waiting jobs do not all poll"
        room.release()
        freed_at = time.monotonic()
        capacity.room_freed()  # one of the launch's runs ended
        landed = next(p for p in _as_completed(pending, timeout=5))
        assert time.monotonic() - freed_at < 0.5, "the freed slot was taken at once, not at a later probe"
        assert landed.result() == "run"
        for _ in range(7):
            room.release()
        assert [p.result() for p in pending] == ["run"] * 8
    assert len(capacity.waits) == 8


def _as_completed(pending: list[PendingRun], *, timeout: float):  # noqa: ANN202 - a generator
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in pending:
            if p.done():
                yield p
                return
        time.sleep(0.005)
    raise AssertionError("nothing landed")
