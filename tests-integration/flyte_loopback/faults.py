"""Fault-injection knobs: RPC latency, failing CreateRuns, lost CreateRun replies, runs that fail or hang,
record-only mode, and run/action quotas."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from connectrpc.code import Code

RecordOnly = Literal["off", "queued", "succeeded"]


@dataclass(frozen=True)
class ActionTarget:
    """What a run/action predicate sees: names plus the primitive input values."""

    run_name: str
    action_name: str
    task_name: str
    inputs: dict[str, Any]


Predicate = Callable[[ActionTarget], bool]
Decision = Literal["execute", "fail", "hang", "queued", "succeeded"]


def run_named(name: str) -> Predicate:
    """A predicate matching the root action of the run called `name`."""
    return lambda t: t.run_name == name and t.action_name == "a0"


def input_equals(key: str, value: Any) -> Predicate:
    """A predicate matching any action whose input `key` equals `value`."""
    return lambda t: key in t.inputs and t.inputs[key] == value


@dataclass
class Faults:
    """Mutable fault configuration, shared by the RPC interceptor and the executor."""

    latency: dict[str, float] = field(default_factory=dict)
    _create_run_delays: dict[str, float] = field(default_factory=dict)
    record_only: RecordOnly = "off"
    _create_run_failures: dict[int, tuple[Code, str]] = field(default_factory=dict)
    _create_run_count: int = 0
    _lost_replies: dict[int, Code] = field(default_factory=dict)
    _created_count: int = 0
    _fail: list[tuple[Predicate, str]] = field(default_factory=list)
    _hang: list[Predicate] = field(default_factory=list)
    run_quota: int | None = None
    action_quota: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        """Remove every fault and reset the CreateRun counter."""
        with self._lock:
            self.latency.clear()
            self._create_run_delays.clear()
            self.record_only = "off"
            self._create_run_failures.clear()
            self._create_run_count = 0
            self._lost_replies.clear()
            self._created_count = 0
            self._fail.clear()
            self._hang.clear()
            self.run_quota = None
            self.action_quota = None

    def add_latency(self, method: str, seconds: float) -> None:
        """Delay every call of `method` ("CreateRun" or "RunService/CreateRun") by `seconds`."""
        with self._lock:
            self.latency[method] = seconds

    def fail_create_run(
        self, nth: int, code: Code = Code.UNAVAILABLE, times: int = 1, message: str = "injected failure"
    ) -> None:
        """Make CreateRun attempts nth..nth+times-1 (1-based, counted since reset) answer `code`."""
        with self._lock:
            for i in range(nth, nth + times):
                self._create_run_failures[i] = (code, message)

    def lose_create_run_replies(self, first: int, code: Code = Code.UNAVAILABLE, nth: int = 1) -> None:
        """Create the run, then answer `code` instead of the reply, for runs nth..nth+first-1 created.

        Counted in runs actually created since reset (a retry answered ALREADY_EXISTS creates
        none), so with first=k the first k runs each lose their first reply: what a client sees
        when the control plane created the run and the connection dropped before the answer.
        """
        with self._lock:
            for i in range(nth, nth + first):
                self._lost_replies[i] = code

    def fail_runs(self, predicate: Predicate, message: str = "injected failure") -> None:
        """Fail matching actions with a USER error carrying `message`, without executing them."""
        with self._lock:
            self._fail.append((predicate, message))

    def hang_runs(self, predicate: Predicate) -> None:
        """Keep matching actions RUNNING, without executing them or taking an executor slot, until aborted."""
        with self._lock:
            self._hang.append(predicate)

    def set_record_only(self, mode: RecordOnly) -> None:
        """Accept and record runs but do not execute them: leave them QUEUED or mark them SUCCEEDED."""
        with self._lock:
            self.record_only = mode

    def set_run_quota(self, limit: int | None) -> None:
        """Past `limit` unfinished runs, CreateRun answers RESOURCE_EXHAUSTED and creates nothing (None: no quota).

        A hosted control plane's concurrency quota; the SDK does not retry it on CreateRun.
        """
        with self._lock:
            self.run_quota = limit

    def set_action_quota(self, limit: int | None) -> None:
        """Past `limit` unfinished child actions, enqueueing another answers RESOURCE_EXHAUSTED (None: no quota).

        The SDK's in-task controller backs off and retries RESOURCE_EXHAUSTED for child actions.
        """
        with self._lock:
            self.action_quota = limit

    def delay_create_run(self, run_name: str, seconds: float) -> None:
        """Hold the CreateRun of the run called `run_name` for `seconds` before handling it (a slow reply)."""
        with self._lock:
            self._create_run_delays[run_name] = seconds

    def create_run_delay(self, run_name: str) -> float:
        """The delay `delay_create_run` set for this run name, if any."""
        with self._lock:
            return self._create_run_delays.get(run_name, 0.0)

    def latency_for(self, method: str) -> float:
        """Configured delay for a "Service/Method" name."""
        with self._lock:
            short = method.rsplit("/", 1)[-1]
            return self.latency.get(method, self.latency.get(short, 0.0))

    def next_create_run_failure(self) -> tuple[Code, str] | None:
        """Count one CreateRun attempt and return the failure injected for it, if any."""
        with self._lock:
            self._create_run_count += 1
            return self._create_run_failures.get(self._create_run_count)

    def lost_reply_for_created_run(self) -> Code | None:
        """Count one run created by CreateRun and return the code that replaces its reply, if any."""
        with self._lock:
            self._created_count += 1
            return self._lost_replies.get(self._created_count)

    def decide(self, target: ActionTarget, is_root: bool) -> tuple[Decision, str]:
        """How the executor should treat an action, with the failure message when it fails."""
        with self._lock:
            for pred, message in self._fail:
                if pred(target):
                    return "fail", message
            if any(pred(target) for pred in self._hang):
                return "hang", ""
            if is_root and self.record_only != "off":
                return self.record_only, ""
            return "execute", ""
