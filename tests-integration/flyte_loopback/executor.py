"""The executor: runs each action for real as a subprocess of this venv's `a0`, with root and child slots."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flyteidl2.core import execution_pb2

from .faults import ActionTarget, Faults
from .runs import (
    ABORTED,
    FAILED,
    INITIALIZING,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Action,
    PastAttempt,
    RunStore,
    local_path,
    primary_container,
    primitive_values,
)

_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
# Env a task pod never inherits from the machine that submitted it.
_HOST_ONLY_ENV = ("FLYTECTL_CONFIG", "UCTL_CONFIG", "PYTEST_CURRENT_TEST", "_F_PATH_REWRITE")


def container_args(template: Any) -> tuple[list[str], dict[str, str]]:
    """Command+args and env of the container a task template runs."""
    if template.HasField("k8s_pod"):
        c = primary_container(template)
        env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
        return [*(c.get("command") or []), *(c.get("args") or [])], env
    env = {kv.key: kv.value for kv in template.container.env}
    return [*template.container.command, *template.container.args], env


@dataclass
class ExecutorConfig:
    """Concurrency and process settings for the executor."""

    root_slots: int = 2
    child_slots: int = 2
    python_bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    extra_env: dict[str, str] = field(default_factory=dict)
    # The open-source backend's deployments give every task pod _U_USE_ACTIONS=1 (charts/flyte-binary
    # configmap, default-env-vars), so its tasks enqueue and watch children through ActionsService.
    use_actions_service: bool = False


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

    async def evict(self, action: Action) -> bool:
        """Kill a running action's process and run it again as a new attempt, as a retried pod would be.

        Same action id and inputs; the new attempt writes under "<output dir>/<attempt>" and its
        children (already enqueued) keep running. False if the action runs no process right now.
        """
        if action.done or action.process is None or action.process.returncode is not None:
            return False
        action.evicting = True
        _kill(action.process)
        return True

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
        if decision == "hang":
            # A hung action runs no process, so it takes no slot: otherwise hung runs could hold every
            # slot and leave the runs a test is about QUEUED forever (as fail_fast's did, at random).
            self.store.set_phase(action, INITIALIZING)
            self.store.set_phase(action, RUNNING)
            while not action.done:
                await self.store.wait_for_change(1.0)
            return
        slots = self._root_slots if action.is_root else self._child_slots
        while True:
            async with slots:
                if action.done:
                    return
                self.store.set_phase(action, INITIALIZING)
                if decision == "fail":
                    err = execution_pb2.ExecutionError(
                        kind=execution_pb2.ExecutionError.USER, code="InjectedFailure", message=message
                    )
                    self.store.set_phase(action, FAILED, err)
                else:
                    await self._execute(action)
            if not action.evicting or action.done:
                return
            self._next_attempt(action)

    def _next_attempt(self, action: Action) -> None:
        """Close the evicted attempt (FAILED, retryable SYSTEM error) and queue the next one."""
        ended = datetime.now(timezone.utc)
        err = execution_pb2.ExecutionError(
            kind=execution_pb2.ExecutionError.SYSTEM,
            code="Evicted",
            message=f"attempt {action.attempt}: the task's pod was evicted (loopback fault)",
            recoverability=execution_pb2.ContainerError.RECOVERABLE,
        )
        action.past_attempts.append(
            PastAttempt(
                attempt=action.attempt,
                started_at=action.started_at or ended,
                ended_at=ended,
                output_prefix=action.output_prefix,
                error=err,
            )
        )
        action.attempt += 1
        action.evicting = False
        action.process = None
        action.returncode = None
        action.started_at = None
        action.phase = QUEUED
        self.store.notify()

    def _placeholders(self, action: Action) -> dict[str, str]:
        run = action.run
        raw = run.run_spec.raw_data_storage.raw_data_prefix or str(run.base_dir / "raw" / action.name)
        return {
            "input": action.inputs_uri,
            "outputPrefix": action.output_prefix,
            "rawOutputDataPrefix": raw,
            "checkpointOutputPrefix": str(run.base_dir / "checkpoints" / action.name / str(action.attempt)),
            "prevCheckpointPrefix": str(run.base_dir / "checkpoints" / action.name / str(action.attempt - 1))
            if action.attempt > 1
            else "",
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
                # RetryAttempt, 0-based (flyteplugins flytek8s/k8s_resource_adds.go; executor attemptToRetry).
                "FLYTE_ATTEMPT_NUMBER": str(action.attempt - 1),
                "_U_EP_OVERRIDE": self.endpoint,
                "_U_INSECURE": "true",
                "DO_NOT_TRACK": "1",
                "PYTHONUNBUFFERED": "1",
                # A bucket needs no directories; local paths do (child inputs.pb under _U_RUN_BASE).
                "FSSPEC_FILE_AUTO_MKDIR": "true",
            }
        )
        if self.config.use_actions_service:
            env["_U_USE_ACTIONS"] = "1"
        else:
            env.pop("_U_USE_ACTIONS", None)
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
        if action.done or action.evicting:
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
