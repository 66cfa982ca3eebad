"""Run and action state: phases, runs, actions, and change notification for watchers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import common_pb2, run_pb2
from google.protobuf.json_format import MessageToDict

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
INITIALIZING = phase_pb2.ACTION_PHASE_INITIALIZING
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED
ABORTED = phase_pb2.ACTION_PHASE_ABORTED
TERMINAL = frozenset({SUCCEEDED, FAILED, ABORTED, phase_pb2.ACTION_PHASE_TIMED_OUT})


def phase_name(phase: int) -> str:
    """ "SUCCEEDED" for ACTION_PHASE_SUCCEEDED, etc."""
    return phase_pb2.ActionPhase.Name(phase).removeprefix("ACTION_PHASE_")


def local_path(uri: str) -> Path:
    """The filesystem path of a `file://` URI or a plain path."""
    return Path(uri.removeprefix("file://"))


def primary_container(template: Any) -> dict[str, Any]:
    """The primary container (as a dict) of a task template that carries a k8s_pod target."""
    pod = MessageToDict(template.k8s_pod.pod_spec) if template.k8s_pod.HasField("pod_spec") else {}
    containers = pod.get("containers") or []
    wanted = template.k8s_pod.primary_container_name or template.config.get("primary_container_name")
    for c in containers:
        if c.get("name") == wanted:
            return c
    return containers[0] if containers else {}


def read_inputs(uri: str) -> common_pb2.Inputs:
    """Parse an offloaded inputs file; empty Inputs if absent."""
    path = local_path(uri)
    msg = common_pb2.Inputs()
    if uri and path.is_file():
        msg.ParseFromString(path.read_bytes())
    return msg


def primitive_values(inputs: common_pb2.Inputs) -> dict[str, Any]:
    """Python values of the primitive (int/float/str/bool) inputs; others are left out."""
    values: dict[str, Any] = {}
    for named in inputs.literals:
        lit = named.value
        if lit.HasField("scalar") and lit.scalar.HasField("primitive"):
            prim = lit.scalar.primitive
            kind = prim.WhichOneof("value")
            if kind in ("integer", "float_value", "string_value", "boolean"):
                values[named.name] = getattr(prim, kind)
    return values


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class PastAttempt:
    """An attempt that ended and was followed by another one."""

    attempt: int
    started_at: datetime
    ended_at: datetime
    output_prefix: str
    error: execution_pb2.ExecutionError


@dataclass(eq=False)
class Action:
    """One action of a run: the root `a0` or a child a parent task enqueued."""

    run: Run = field(repr=False)
    name: str
    parent: str
    task_spec: Any  # flyteidl2.task.TaskSpec, or None for a trace
    inputs_uri: str
    # "<run output base>/<action>": each attempt writes under "<output_dir>/<attempt>", as the
    # open-source executor's ComputeActionOutputPath does (executor/pkg/plugin/task_exec_context.go).
    output_dir: str
    group: str = ""
    trace: Any = None  # flyteidl2.workflow.TraceAction for @flyte.trace
    trace_output_uri: str = ""  # a trace's outputs, written by its parent
    phase: int = QUEUED
    error: execution_pb2.ExecutionError | None = None
    abort_reason: str | None = None
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    logs_available: bool = False
    log_lines: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    returncode: int | None = None
    attempt: int = 1
    # Earlier attempts, oldest first: what each ended with (an evicted pod's attempt ends FAILED).
    past_attempts: list[PastAttempt] = field(default_factory=list)
    # Set by `Executor.evict`: the running process is being killed to be run again as a new attempt.
    evicting: bool = False
    # Why the control plane will never start this action (e.g. Kubernetes refused its labels).
    stuck_reason: str | None = None

    @property
    def output_prefix(self) -> str:
        """Where the current attempt writes outputs.pb / error.pb: "<output_dir>/<attempt>"."""
        return self.trace_output_uri or f"{self.output_dir}/{self.attempt}"

    @property
    def done(self) -> bool:
        """Whether the action is in a terminal phase."""
        return self.phase in TERMINAL

    @property
    def phase_name(self) -> str:
        """The phase without its ACTION_PHASE_ prefix."""
        return phase_name(self.phase)

    @property
    def is_root(self) -> bool:
        """Whether this is the run's root action."""
        return not self.parent

    @property
    def task_name(self) -> str:
        """The task's name (module.function)."""
        if self.task_spec is None:
            return self.trace.name if self.trace is not None else ""
        return self.task_spec.task_template.id.name

    @property
    def outputs_path(self) -> Path:
        """Where the task writes its outputs.pb."""
        return local_path(self.output_prefix) / "outputs.pb"

    @property
    def error_path(self) -> Path:
        """Where the task writes its error.pb."""
        return local_path(self.output_prefix) / "error.pb"

    @property
    def resources(self) -> dict[str, dict[str, str]]:
        """Requests and limits of the task's container."""
        from .recorder import task_resources

        return task_resources(self.task_spec)

    @property
    def image(self) -> str:
        """The image the task asked for (container or pod template primary container)."""
        from .recorder import task_image

        return task_image(self.task_spec)

    def outputs(self) -> common_pb2.Outputs | None:
        """The parsed outputs.pb, if the task wrote one."""
        if not self.outputs_path.is_file():
            return None
        msg = common_pb2.Outputs()
        msg.ParseFromString(self.outputs_path.read_bytes())
        return msg

    def inputs(self) -> common_pb2.Inputs:
        """The parsed inputs."""
        return read_inputs(self.inputs_uri)


@dataclass(eq=False)
class Run:
    """A run: its spec, where its files live, and its actions (root first)."""

    name: str
    org: str
    project: str
    domain: str
    run_spec: run_pb2.RunSpec
    base_dir: Path
    created_at: datetime = field(default_factory=_now)
    actions: dict[str, Action] = field(default_factory=dict)

    @property
    def root(self) -> Action:
        """The root action a0."""
        return self.actions["a0"]

    @property
    def phase(self) -> str:
        """The root action's phase name, e.g. "SUCCEEDED"."""
        return self.root.phase_name

    @property
    def task_spec(self) -> Any:
        """The root task spec."""
        return self.root.task_spec

    @property
    def inputs(self) -> common_pb2.Inputs:
        """The root action's inputs."""
        return self.root.inputs()

    @property
    def outputs_path(self) -> Path:
        """The root action's outputs.pb path."""
        return self.root.outputs_path

    @property
    def env_vars(self) -> dict[str, str]:
        """Env vars from the run spec."""
        return {kv.key: kv.value for kv in self.run_spec.envs.values}

    @property
    def labels(self) -> dict[str, str]:
        """Labels from the run spec."""
        return dict(self.run_spec.labels.values)

    @property
    def logs(self) -> list[str]:
        """The root action's log lines so far."""
        return list(self.root.log_lines)

    def children(self, parent: str | None = None) -> list[Action]:
        """Non-root actions, optionally only those of one parent."""
        actions = list(self.actions.values())  # the server loop may add children concurrently
        return [a for a in actions if a.parent and (parent is None or a.parent == parent)]


class RunStore:
    """All runs by name, plus change notification for watchers on the server's event loop."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._changed: asyncio.Event | None = None

    def __getitem__(self, name: str) -> Run:
        with self._lock:
            return self._runs[name]

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._runs

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def names(self) -> list[str]:
        """Run names in creation order."""
        with self._lock:
            return list(self._runs)

    def values(self) -> list[Run]:
        """Runs in creation order."""
        with self._lock:
            return list(self._runs.values())

    def get(self, name: str) -> Run | None:
        """The run called `name`, or None."""
        with self._lock:
            return self._runs.get(name)

    def add(self, run: Run) -> bool:
        """Add a run; False if the name is taken."""
        with self._lock:
            if run.name in self._runs:
                return False
            self._runs[run.name] = run
            return True

    def clear(self) -> None:
        """Forget every run."""
        with self._lock:
            self._runs.clear()

    def notify(self) -> None:
        """Wake every watcher (call on the server loop)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_change(self, timeout: float | None = None) -> None:
        """Return at the next state change, or after `timeout` seconds."""
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def set_phase(
        self, action: Action, phase: int, error: execution_pb2.ExecutionError | None = None
    ) -> None:
        """Move an action to `phase` (terminal phases are final) and notify watchers."""
        if action.done:
            return
        action.phase = phase
        if phase in (INITIALIZING, RUNNING) and action.started_at is None:
            action.started_at = _now()
        if phase in TERMINAL:
            action.ended_at = _now()
            if action.started_at is None:
                action.started_at = action.ended_at
        if error is not None:
            action.error = error
        self.notify()
