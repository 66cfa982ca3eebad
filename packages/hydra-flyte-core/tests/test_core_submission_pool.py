"""The submission pool: bounded concurrency, retries of transient failures only, URLs as runs land."""

from __future__ import annotations

import threading
import time

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

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
