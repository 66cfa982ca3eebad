"""`ControlPlane`: the test-facing facade that wires state, executor, services and server together."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from pathlib import Path

from .executor import Executor, ExecutorConfig
from .faults import Faults
from .recorder import Recorder
from .rules import DEFAULT_PROFILE, Profile, check_profile
from .runs import SUCCEEDED, TERMINAL, Run, RunStore, phase_name
from .server import LoopbackApp, ServerThread
from .services import ServerContext


class ControlPlane:
    """A loopback Flyte 2 control plane on 127.0.0.1 that records requests and runs tasks for real."""

    def __init__(
        self,
        state_dir: Path,
        *,
        home: Path | None = None,
        project: str = "loopback-project",
        domain: str = "development",
        org: str = "loopback",
        root_slots: int = 2,
        child_slots: int = 2,
        profile: str = DEFAULT_PROFILE,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.home = Path(home) if home is not None else Path.home()
        self.project = project
        self.domain = domain
        self.org = org
        self.profile: Profile = check_profile(profile)
        self.projects: set[str] = {project}
        self.requests = Recorder()
        self.faults = Faults()
        self.runs = RunStore()
        self.executor = Executor(
            self.runs,
            self.faults,
            ExecutorConfig(
                root_slots=root_slots,
                child_slots=child_slots,
                use_actions_service=self.profile == "open-source",
            ),
        )
        ctx = ServerContext(
            store=self.runs,
            executor=self.executor,
            state_dir=self.state_dir,
            default_org=org,
            endpoint=lambda: self.endpoint,
            closing=lambda: self._server.closing,
            faults=self.faults,
            profile=self.profile,
            projects=self.projects,
        )
        self._server = ServerThread(LoopbackApp(ctx, self.requests, self.faults))
        self._config_path: Path | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def endpoint(self) -> str:
        """ "http://127.0.0.1:PORT"."""
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def running(self) -> bool:
        """Whether the server accepts connections."""
        return self._server.running

    def start(self) -> ControlPlane:
        """Start serving (again, on the same port after `stop`)."""
        self._server.start()
        self.executor.endpoint = self.endpoint
        return self

    def stop(self) -> None:
        """Stop serving, e.g. mid-wait; runs keep their state and running tasks keep running."""
        self._server.stop()

    def close(self) -> None:
        """Stop serving, kill every task process and stop the server thread."""
        self._server.close(before=self.executor.shutdown)

    def reset(self) -> None:
        """Abort unfinished runs, then clear recorded requests and faults."""
        self.abort_all("fixture reset")
        self.requests.clear()
        self.faults.clear()

    # ------------------------------------------------------------ client configuration

    def write_flyte_config(self, path: Path | str) -> Path:
        """Write a flyte config YAML pointing at this endpoint (insecure) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "admin:\n"
            f"  endpoint: {self.endpoint}\n"
            "  insecure: true\n"
            "task:\n"
            f"  org: {self.org}\n"
            f"  project: {self.project}\n"
            f"  domain: {self.domain}\n"
        )
        self._config_path = path
        return path

    def env(self, config_path: Path | str | None = None) -> dict[str, str]:
        """Env vars for a subprocess that should talk to this control plane (config via FLYTECTL_CONFIG)."""
        if config_path is None:
            config_path = self._config_path or self.write_flyte_config(self.state_dir / "config.yaml")
        env = {k: v for k, v in os.environ.items() if k not in ("UCTL_CONFIG", "FLYTECTL_CONFIG")}
        env.update({"HOME": str(self.home), "DO_NOT_TRACK": "1", "FLYTECTL_CONFIG": str(config_path)})
        return env

    # ------------------------------------------------------------ runs

    def run(self, name: str) -> Run:
        """The run called `name`."""
        return self.runs[name]

    def wait_for_phase(self, name: str, phases: Iterable[str] = (), timeout: float = 30.0) -> Run:
        """Block until run `name` exists and reaches one of `phases` (default: any terminal phase)."""
        wanted = set(phases) or {phase_name(p) for p in TERMINAL}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.runs.get(name)
            if run is not None and run.phase in wanted:
                return run
            time.sleep(0.05)
        current = self.runs.get(name)
        raise TimeoutError(
            f"run {name!r} is {current.phase if current else 'missing'}, wanted one of {wanted}"
        )

    def abort(self, name: str, reason: str = "aborted by the test") -> None:
        """Abort run `name` server-side, as AbortRun would."""
        self._server.call(self.executor.abort(self.runs[name].root, reason))

    def evict(self, name: str, action: str = "a0", timeout: float = 30.0) -> None:
        """Kill the running process of action `action` of run `name`; the control plane runs it again.

        What a pod eviction followed by a retry looks like: attempt N+1 of the same action id, same
        inputs, outputs under "<run output base>/<action>/<N+1>"; its children keep running.
        Waits (up to `timeout`) for the action to be running a process first.
        """
        deadline = time.monotonic() + timeout
        while True:
            target = self.runs[name].actions.get(action)
            if target is not None and self._server.call(self.executor.evict(target)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"action {action!r} of run {name!r} runs no process to evict")
            time.sleep(0.05)

    def add_project(self, name: str) -> None:
        """Make project `name` exist (the open-source profile refuses runs in projects that do not)."""
        self.projects.add(name)

    def abort_all(self, reason: str) -> None:
        """Abort every unfinished run."""
        for run in self.runs.values():
            if not run.root.done:
                self._server.call(self.executor.abort(run.root, reason))

    def mark_succeeded(self, name: str) -> None:
        """Finish a record-only (QUEUED) run as SUCCEEDED without executing it."""

        async def _mark() -> None:
            self.runs.set_phase(self.runs[name].root, SUCCEEDED)

        self._server.call(_mark())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop."""
        return self._server.loop
