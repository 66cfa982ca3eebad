"""An ordered, thread-safe record of every RPC the loopback control plane received."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connectrpc.code import Code
from flyteidl2.workflow import run_service_pb2


@dataclass
class RecordedRequest:
    """One RPC: its method, request message, and what it answered."""

    method: str  # "Service/Method", e.g. "RunService/CreateRun"
    request: Any
    arrived_at: float  # time.monotonic() when the request reached the server
    response: Any = None
    error: Code | None = None
    # CreateRun only: whether this call created the run (an open-source control plane answers a taken
    # name OK with the existing run, which creates nothing).
    created: bool = False


# The record of the RPC being handled, so a service can note what the call did (e.g. `created`).
CURRENT_RECORD: contextvars.ContextVar[RecordedRequest | None] = contextvars.ContextVar(
    "flyte_loopback_current_record", default=None
)


def mark_created() -> None:
    """Note on the current CreateRun's record that it created its run."""
    record = CURRENT_RECORD.get()
    if record is not None:
        record.created = True


@dataclass(frozen=True)
class CreatedRun:
    """A successful CreateRun as the caller sent it, joined with the name the server answered."""

    name: str
    request: run_service_pb2.CreateRunRequest
    arrived_at: float

    @property
    def task_spec(self) -> Any:
        """The inline `flyteidl2.task.TaskSpec` of the run."""
        return self.request.task_spec

    @property
    def run_spec(self) -> Any:
        """The `flyteidl2.task.RunSpec` of the run."""
        return self.request.run_spec

    @property
    def env_vars(self) -> dict[str, str]:
        """Env vars from the run spec."""
        return {kv.key: kv.value for kv in self.request.run_spec.envs.values}

    @property
    def labels(self) -> dict[str, str]:
        """Labels from the run spec."""
        return dict(self.request.run_spec.labels.values)

    @property
    def resources(self) -> dict[str, dict[str, str]]:
        """Requests and limits of the root task's container."""
        return task_resources(self.request.task_spec)

    @property
    def image(self) -> str:
        """Image of the root task's container (or pod template primary container)."""
        return task_image(self.request.task_spec)


@dataclass
class Recorder:
    """Collects `RecordedRequest`s in arrival order."""

    _items: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: RecordedRequest) -> None:
        """Append one record."""
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._items.clear()

    def all(self) -> list[RecordedRequest]:
        """A snapshot of every record, in order."""
        with self._lock:
            return list(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def methods(self) -> list[str]:
        """The method names, in order."""
        return [r.method for r in self.all()]

    def of(self, method: str) -> list[RecordedRequest]:
        """Records of one method ("CreateRun" or "RunService/CreateRun")."""
        return [r for r in self.all() if r.method == method or r.method.endswith("/" + method)]

    def created_runs(self) -> list[CreatedRun]:
        """Every CreateRun that created a run (its reply lost or not), in arrival order.

        A CreateRun answered OK with an existing run (open-source profile, taken name) created none.
        """
        return [
            CreatedRun(name=r.response.run.action.id.run.name, request=r.request, arrived_at=r.arrived_at)
            for r in self.of("RunService/CreateRun")
            if r.response is not None and r.created
        ]

    def adopted_runs(self) -> list[str]:
        """Names a CreateRun asked for and was answered OK with an existing run (open-source profile)."""
        return [
            r.response.run.action.id.run.name
            for r in self.of("RunService/CreateRun")
            if r.response is not None and r.error is None and not r.created
        ]

    def lost_replies(self) -> list[str]:
        """The names of the runs created whose CreateRun reply was replaced by an error (a fault)."""
        return [
            r.response.run.action.id.run.name
            for r in self.of("RunService/CreateRun")
            if r.response is not None and r.created and r.error is not None
        ]

    def created_run(self, name: str) -> CreatedRun:
        """The CreateRun that created the run `name`."""
        for run in self.created_runs():
            if run.name == name:
                return run
        raise KeyError(f"no CreateRun created a run named {name!r}")

    def enqueued_actions(self, run_name: str | None = None) -> list[Any]:
        """Child actions enqueued (QueueService/EnqueueAction requests, or ActionsService/Enqueue's
        `action`, which carries the same fields), optionally for one run."""
        requests = [
            r.request if r.method == "QueueService/EnqueueAction" else r.request.action
            for r in self.all()
            if r.method in ("QueueService/EnqueueAction", "ActionsService/Enqueue")
        ]
        return [a for a in requests if run_name is None or a.action_id.run.name == run_name]


def task_resources(task_spec: Any) -> dict[str, dict[str, str]]:
    """{"requests": {...}, "limits": {...}} of a TaskSpec's (or pod template primary) container."""
    from flyteidl2.core import tasks_pb2

    from .runs import primary_container

    tmpl = task_spec.task_template
    if tmpl.HasField("k8s_pod"):
        res = primary_container(tmpl).get("resources") or {}
        return {
            kind: {k: str(v) for k, v in (res.get(kind) or {}).items()} for kind in ("requests", "limits")
        }
    name = tasks_pb2.Resources.ResourceName.Name

    def _entries(items: Any) -> dict[str, str]:
        return {name(e.name).lower(): e.value for e in items}

    res_pb = tmpl.container.resources
    return {"requests": _entries(res_pb.requests), "limits": _entries(res_pb.limits)}


def task_image(task_spec: Any) -> str:
    """The image a TaskSpec would run: the container's, or the pod template primary container's."""
    from .runs import primary_container

    tmpl = task_spec.task_template
    if tmpl.HasField("k8s_pod"):
        return str(primary_container(tmpl).get("image", ""))
    return tmpl.container.image


def now() -> float:
    """The clock used for `arrived_at`."""
    return time.monotonic()
