"""Run and action state, and the executor that runs each action for real as an `a0` subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
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

from .faults import ActionTarget, Faults

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
INITIALIZING = phase_pb2.ACTION_PHASE_INITIALIZING
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED
ABORTED = phase_pb2.ACTION_PHASE_ABORTED
TERMINAL = frozenset({SUCCEEDED, FAILED, ABORTED, phase_pb2.ACTION_PHASE_TIMED_OUT})

_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
# Env a task pod never inherits from the machine that submitted it.
_HOST_ONLY_ENV = ("FLYTECTL_CONFIG", "UCTL_CONFIG", "PYTEST_CURRENT_TEST", "_F_PATH_REWRITE")


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


def container_args(template: Any) -> tuple[list[str], dict[str, str]]:
    """Command+args and env of the container a task template runs."""
    if template.HasField("k8s_pod"):
        c = primary_container(template)
        env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
        return [*(c.get("command") or []), *(c.get("args") or [])], env
    env = {kv.key: kv.value for kv in template.container.env}
    return [*template.container.command, *template.container.args], env


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


@dataclass(eq=False)
class Action:
    """One action of a run: the root `a0` or a child a parent task enqueued."""

    run: Run = field(repr=False)
    name: str
    parent: str
    task_spec: Any  # flyteidl2.task.TaskSpec, or None for a trace
    inputs_uri: str
    output_prefix: str
    group: str = ""
    trace: Any = None  # flyteidl2.workflow.TraceAction for @flyte.trace
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


@dataclass
class ExecutorConfig:
    """Concurrency and process settings for the executor."""

    root_slots: int = 2
    child_slots: int = 2
    python_bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    extra_env: dict[str, str] = field(default_factory=dict)


class Executor:
    """Runs actions as subprocesses of this venv's `a0`, with separate root and child slot pools."""

    def __init__(self, store: RunStore, faults: Faults, config: ExecutorConfig) -> None:
        self.store = store
        self.faults = faults
        self.config = config
        self.endpoint = ""
        self._root_slots = asyncio.Semaphore(config.root_slots)
        self._child_slots = asyncio.Semaphore(config.child_slots)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, action: Action) -> None:
        """Schedule an action (call on the server loop)."""
        task = asyncio.get_running_loop().create_task(
            self._run(action), name=f"action-{action.run.name}-{action.name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def abort(self, action: Action, reason: str) -> None:
        """Abort an action and its descendants: kill the process, phase ABORTED."""
        for child in action.run.children(action.name):
            await self.abort(child, reason)
        if action.done:
            return
        action.abort_reason = reason
        self.store.set_phase(action, ABORTED)
        _kill(action.process)

    async def shutdown(self) -> None:
        """Kill every running process and cancel pending actions."""
        for task in list(self._tasks):
            task.cancel()
        for run in self.store.values():
            for action in list(run.actions.values()):
                _kill(action.process)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, action: Action) -> None:
        target = ActionTarget(
            run_name=action.run.name,
            action_name=action.name,
            task_name=action.task_name,
            inputs=primitive_values(action.inputs()),
        )
        decision, message = self.faults.decide(target, action.is_root)
        if decision == "queued":
            return
        if decision == "succeeded":
            self.store.set_phase(action, SUCCEEDED)
            return
        slots = self._root_slots if action.is_root else self._child_slots
        async with slots:
            if action.done:
                return
            self.store.set_phase(action, INITIALIZING)
            if decision == "fail":
                err = execution_pb2.ExecutionError(
                    kind=execution_pb2.ExecutionError.USER, code="InjectedFailure", message=message
                )
                self.store.set_phase(action, FAILED, err)
            elif decision == "hang":
                self.store.set_phase(action, RUNNING)
                while not action.done:
                    await self.store.wait_for_change(1.0)
            else:
                await self._execute(action)

    def _placeholders(self, action: Action) -> dict[str, str]:
        run = action.run
        raw = run.run_spec.raw_data_storage.raw_data_prefix or str(run.base_dir / "raw" / action.name)
        return {
            "input": action.inputs_uri,
            "outputPrefix": action.output_prefix,
            "rawOutputDataPrefix": raw,
            "checkpointOutputPrefix": str(run.base_dir / "checkpoints" / action.name / "1"),
            "prevCheckpointPrefix": "",
            "runName": run.name,
            "actionName": action.name,
            "runStartTime": run.created_at.isoformat(),
            "project": run.project,
            "domain": run.domain,
            "org": run.org,
        }

    def _argv(self, action: Action) -> tuple[list[str], dict[str, str]]:
        args, container_env = container_args(action.task_spec.task_template)
        values = self._placeholders(action)
        argv = [_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), a) for a in args]
        local = self.config.python_bin_dir / argv[0] if argv else None
        if local is not None and "/" not in argv[0] and local.exists():
            argv[0] = str(local)
        return argv, container_env

    def _env(self, action: Action, container_env: dict[str, str]) -> dict[str, str]:
        run = action.run
        env = {k: v for k, v in os.environ.items() if k not in _HOST_ONLY_ENV}
        env["PATH"] = f"{self.config.python_bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.update(container_env)
        env.update(run.env_vars)
        env.update(
            {
                "FLYTE_INTERNAL_EXECUTION_PROJECT": run.project,
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": run.domain,
                "_U_ORG_NAME": run.org,
                "_U_RUN_BASE": str(run.base_dir),
                "RUN_NAME": run.name,
                "ACTION_NAME": action.name,
                "_U_EP_OVERRIDE": self.endpoint,
                "_U_INSECURE": "true",
                "DO_NOT_TRACK": "1",
                "PYTHONUNBUFFERED": "1",
                # A bucket needs no directories; local paths do (child inputs.pb under _U_RUN_BASE).
                "FSSPEC_FILE_AUTO_MKDIR": "true",
            }
        )
        env.update(self.config.extra_env)
        return env

    async def _execute(self, action: Action) -> None:
        workdir = action.run.base_dir / "work" / action.name
        workdir.mkdir(parents=True, exist_ok=True)
        local_path(action.output_prefix).mkdir(parents=True, exist_ok=True)
        argv, container_env = self._argv(action)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workdir,
                env=self._env(action, container_env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                limit=2**22,
            )
        except OSError as e:
            err = execution_pb2.ExecutionError(
                kind=execution_pb2.ExecutionError.SYSTEM, code="SpawnFailed", message=str(e)
            )
            self.store.set_phase(action, FAILED, err)
            return
        action.process = proc
        if action.done:  # aborted between scheduling and spawning
            _kill(proc)
        action.logs_available = True
        self.store.set_phase(action, RUNNING)
        assert proc.stdout is not None
        async for raw in proc.stdout:
            action.log_lines.append(raw.decode(errors="replace").rstrip("\r\n"))
            self.store.notify()
        action.returncode = await proc.wait()
        self._finish(action)

    def _finish(self, action: Action) -> None:
        if action.done:
            return
        if action.error_path.is_file():
            doc = execution_pb2.ErrorDocument()
            doc.ParseFromString(action.error_path.read_bytes())
            err = execution_pb2.ExecutionError(
                code=doc.error.code,
                message=doc.error.message,
                kind=doc.error.origin,
                recoverability=doc.error.kind,
            )
            self.store.set_phase(action, FAILED, err)
        elif action.returncode == 0:
            self.store.set_phase(action, SUCCEEDED)
        else:
            tail = "\n".join(action.log_lines[-20:])
            err = execution_pb2.ExecutionError(
                kind=execution_pb2.ExecutionError.SYSTEM,
                code="ContainerExited",
                message=f"task process exited with code {action.returncode}:\n{tail}",
            )
            self.store.set_phase(action, FAILED, err)


def _kill(proc: asyncio.subprocess.Process | None) -> None:
    """SIGKILL a task process group, if it still runs."""
    if proc is None or proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
