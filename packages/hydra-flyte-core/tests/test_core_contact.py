"""The outage clock of waiting (hydra_flyte.remote.contact), with an injected clock and sleep: no real time.

Waiting through a real outage of the loopback control plane is tests-integration/test_sweep_faults.py.
"""

from __future__ import annotations

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from hydra_flyte import ContactLostError, SweepFailedError, SweepUnconfirmedError
from hydra_flyte.errors import ConfigurationError
from hydra_flyte.remote.contact import DEFAULT_RECONNECT_TIMEOUT_SECONDS, Contact, is_contact_lost
from hydra_flyte.remote.submit import LaunchSettings, settings_from_config
from hydra_flyte.results import JobOutcome


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_lost_contact_is_told_apart_from_an_answer() -> None:
    assert is_contact_lost(ConnectError(Code.UNAVAILABLE, "Connection refused"))
    assert is_contact_lost(ConnectionRefusedError())
    assert is_contact_lost(ConnectError(Code.DEADLINE_EXCEEDED, "slow"))
    assert not is_contact_lost(ConnectError(Code.NOT_FOUND, "no such run"))
    assert not is_contact_lost(ValueError("the task's own error"))


def test_an_outage_shorter_than_the_limit_is_ridden_out_with_backoff() -> None:
    time = FakeTime()
    contact = Contact(60, clock=time.clock, sleep=time.sleep)
    answers = iter([ConnectError(Code.UNAVAILABLE, "down")] * 4 + ["SUCCEEDED"])

    def call() -> str:
        answer = next(answers)
        if isinstance(answer, BaseException):
            time.now += 5  # each failed attempt itself takes a while
            raise answer
        return answer

    assert contact.call(call, what="waiting") == "SUCCEEDED"
    assert time.slept == [1.0, 2.0, 4.0, 8.0], "exponential backoff"
    assert not contact.expired(), "an answer ends the outage"


def test_past_the_limit_the_call_raises_contact_lost_with_the_cause() -> None:
    time = FakeTime()
    contact = Contact(10, clock=time.clock, sleep=time.sleep)
    down = ConnectError(Code.UNAVAILABLE, "Connection refused")

    def call() -> None:
        time.now += 3
        raise down

    with pytest.raises(ContactLostError, match=r"could not reconnect within 10 s") as info:
        contact.call(call, what="waiting for run x-0")
    assert info.value.__cause__ is down and "Connection refused" in str(info.value)
    assert "unconfirmed" in str(info.value)
    assert sum(time.slept) <= 10, "never sleeps past the limit"
    assert contact.expired()


def test_an_answer_is_not_retried_and_a_zero_limit_gives_up_at_the_first_failure() -> None:
    time = FakeTime()
    contact = Contact(0, clock=time.clock, sleep=time.sleep)
    with pytest.raises(ValueError):
        contact.call(lambda: (_ for _ in ()).throw(ValueError("no")), what="x")
    with pytest.raises(ContactLostError):
        contact.call(lambda: (_ for _ in ()).throw(ConnectionRefusedError()), what="x")
    assert time.slept == []


def test_the_clock_is_shared_the_first_failure_starts_it_for_every_waiter() -> None:
    time = FakeTime()
    contact = Contact(30, clock=time.clock, sleep=time.sleep)
    assert contact.failed(ConnectionRefusedError()) == 30
    time.now += 20
    assert contact.failed() == 10, "a second waiter's failure does not restart the clock"
    time.now += 10
    assert contact.expired()
    lost = contact.lost(None)
    assert isinstance(lost, ContactLostError) and "ConnectionRefusedError" in str(lost)
    contact.restored()
    assert not contact.expired()


def test_the_setting_default_and_its_validation() -> None:
    assert LaunchSettings().reconnect_timeout_seconds == DEFAULT_RECONNECT_TIMEOUT_SECONDS == 600
    assert settings_from_config({"reconnect_timeout_seconds": 3}).reconnect_timeout_seconds == 3
    for bad in (-1, "10", True, float("nan")):
        with pytest.raises(ConfigurationError, match="reconnect_timeout_seconds"):
            LaunchSettings(reconnect_timeout_seconds=bad)


def test_a_sweep_with_unconfirmed_jobs_says_so_and_how_to_reattach() -> None:
    lost = Contact(3).lost(None)
    lost.manifest_path = "/sweeps/a/flyte-sweep.json"
    outcomes = [
        JobOutcome(job_num=0, overrides=["x=1"], result=1.0, error=None),
        JobOutcome(job_num=1, overrides=["x=2"], result=None, error=lost),
        JobOutcome(job_num=2, overrides=["x=3"], result=None, error=RuntimeError("boom")),
    ]
    error = SweepUnconfirmedError(outcomes)
    assert isinstance(error, SweepFailedError) and error.outcomes == outcomes
    text = str(error)
    assert "2 of 3 jobs did not succeed (1 failed, 1 unconfirmed" in text
    assert "Reattach with: flyte hydra status /sweeps/a/flyte-sweep.json --wait" in text
    assert str(SweepFailedError(outcomes[2:])).startswith("1 of 1 jobs failed:")
