"""Tests of the loopback control plane itself, driven by the real, unmodified `flyte` SDK."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import flyte
import flyte.errors
import loopback_tasks as tasks
import pytest
from connectrpc.code import Code
from flyte.remote import Run
from flyte_loopback import ControlPlane, _sdk_private, input_equals, run_named

pytestmark = pytest.mark.slow


def _remote(**kwargs: object):
    """`flyte.with_runcontext(mode="remote", ...)`."""
    return flyte.with_runcontext(mode="remote", **kwargs)  # type: ignore[arg-type]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_run_value_env_vars_labels_and_listing(flyte_remote: ControlPlane) -> None:
    """A remote run executes for real; run-context env vars reach the task, and labels are listable."""
    label = _unique("team")
    value_run = _remote().run(tasks.add, 2, 3)
    env_run = _remote(env_vars={"LOOPBACK_FLAVOR": "vanilla"}, labels={"team": label}).run(
        tasks.read_env, "LOOPBACK_FLAVOR"
    )

    value_run.wait(quiet=True)
    env_run.wait(quiet=True)
    assert value_run.outputs()[0] == 5
    assert env_run.outputs()[0] == "vanilla"

    created = flyte_remote.requests.created_run(env_run.name)
    assert created.env_vars["LOOPBACK_FLAVOR"] == "vanilla"
    assert created.labels == {"team": label}
    assert created.image == "example.com/test:latest"
    assert flyte_remote.runs[env_run.name].labels == {"team": label}
    assert flyte_remote.runs[value_run.name].phase == "SUCCEEDED"
    assert flyte_remote.runs[value_run.name].outputs_path.is_file()

    methods = flyte_remote.requests.methods()
    for expected in (
        "ClusterService/SelectCluster",
        "DataProxyService/UploadInputs",
        "RunService/CreateRun",
        "RunService/WatchActionDetails",
        "DataProxyService/GetActionData",
    ):
        assert expected in methods
    assert methods.index("DataProxyService/UploadInputs") < methods.index("RunService/CreateRun")

    # Listing by label is a hosted-only feature (test_control_plane_rules.py); task_name filters everywhere.
    task_name = created.task_spec.task_template.id.name
    assert env_run.name in [r.name for r in Run.listall(task_name=task_name)]
    assert value_run.name not in [r.name for r in Run.listall(task_name=task_name)]
    fetched = Run.get(value_run.name)
    assert fetched.name == value_run.name
    assert fetched.phase == "succeeded"


def test_failing_task_raises_with_its_message(flyte_remote: ControlPlane) -> None:
    """A task's exception comes back through raise_for_status and first_failure."""
    run = _remote().run(tasks.fail, "the loopback task broke")
    run.wait(quiet=True)

    assert flyte_remote.runs[run.name].phase == "FAILED"
    with pytest.raises(flyte.errors.RuntimeUserError, match="the loopback task broke"):
        run.raise_for_status()
    failure = run.first_failure()
    assert failure is not None and "the loopback task broke" in failure.error_message


def test_named_run_keeps_its_name(flyte_remote: ControlPlane) -> None:
    """A caller-named run keeps its name (record-only: no execution); taken names: test_control_plane_rules.py."""
    flyte_remote.faults.set_record_only("queued")
    name = _unique("loopback-named")

    run = _remote(name=name).run(tasks.add, 1, 1)
    assert run.name == name
    assert flyte_remote.runs[name].phase == "QUEUED"
    assert [r.name for r in flyte_remote.requests.created_runs()] == [name]


def test_abort_kills_the_task_process(flyte_remote: ControlPlane) -> None:
    """AbortRun kills the running subprocess and the run ends ABORTED."""
    run = _remote().run(tasks.sleep, 60.0)
    state = flyte_remote.wait_for_phase(run.name, ["RUNNING"])
    run.abort(reason="test abort")
    run.wait(quiet=True)

    assert state.phase == "ABORTED"
    assert state.root.process is not None
    deadline = time.monotonic() + 5
    while state.root.process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.root.process.returncode is not None
    with pytest.raises(flyte.errors.ActionAbortedError, match="test abort"):
        run.raise_for_status()


def test_logs_stream_through_tail_logs(flyte_remote: ControlPlane) -> None:
    """Lines the task prints come back through DataProxyService/TailLogs."""
    run = _remote().run(tasks.shout, "hello", lines=3)
    run.wait(quiet=True)

    lines = list(run.get_logs())
    assert any("loopback-log-line 2: hello" in line for line in lines)
    assert flyte_remote.requests.of("TailLogs")
    assert run.outputs()[0] == "HELLO"


def test_parent_awaits_two_children_with_recorded_resources(flyte_remote: ControlPlane) -> None:
    """Child actions go through QueueService/StateService; the override's resources are recorded."""
    run = _remote().run(tasks.pipeline, 3)
    run.wait(quiet=True)

    assert run.outputs()[0] == (3 + 1) + 3 * 3
    children = flyte_remote.runs[run.name].children("a0")
    assert sorted(c.task_name.rsplit(".", 1)[-1] for c in children) == ["add", "square"]
    assert all(c.phase_name == "SUCCEEDED" for c in children)
    square = next(c for c in children if c.task_name.endswith("square"))
    assert square.resources["requests"] == {"cpu": "2", "memory": "1Gi"}
    assert square.image == "example.com/test:latest"
    assert len(flyte_remote.requests.enqueued_actions(run.name)) == 2
    # The open-source backend serves children through ActionsService, a hosted one through Queue/State.
    watch = (
        "ActionsService/WatchForUpdates" if flyte_remote.profile == "open-source" else "StateService/Watch"
    )
    assert flyte_remote.requests.of(watch)


def test_nth_create_run_unavailable(flyte_remote: ControlPlane) -> None:
    """An UNAVAILABLE CreateRun is retried by the SDK; one that stays UNAVAILABLE surfaces as an error."""
    flyte_remote.faults.set_record_only("succeeded")
    flyte_remote.faults.fail_create_run(2, Code.UNAVAILABLE)
    first = _remote().run(tasks.add, 1, 2)
    second = _remote().run(tasks.add, 3, 4)  # attempt 2 fails, the SDK's retry (attempt 3) succeeds
    assert [r.error for r in flyte_remote.requests.of("CreateRun")] == [None, Code.UNAVAILABLE, None]
    assert {first.name, second.name} <= set(flyte_remote.runs)

    flyte_remote.faults.fail_create_run(4, Code.UNAVAILABLE, times=4)
    with pytest.raises(flyte.errors.RuntimeSystemError, match="unavailable"):
        _remote().run(tasks.add, 5, 6)
    assert [r.error for r in flyte_remote.requests.of("CreateRun")][3:] == [Code.UNAVAILABLE] * 4


def test_injected_failure_hang_and_server_restart_mid_wait(flyte_remote: ControlPlane) -> None:
    """Injected failures skip execution; a hanging run survives a server stop/start while the SDK waits."""
    flyte_remote.faults.fail_runs(input_equals("x", 13), message="unlucky input")
    failed = _remote().run(tasks.square, 13)
    failed.wait(quiet=True)
    with pytest.raises(flyte.errors.RuntimeUserError, match="unlucky input"):
        failed.raise_for_status()

    name = _unique("loopback-hang")
    flyte_remote.faults.hang_runs(run_named(name))
    hanging = _remote(name=name).run(tasks.square, 2)
    flyte_remote.wait_for_phase(name, ["RUNNING"])

    waiter = threading.Thread(target=hanging.wait, kwargs={"quiet": True})
    waiter.start()
    time.sleep(0.3)
    flyte_remote.stop()
    time.sleep(0.5)
    flyte_remote.start()
    assert waiter.is_alive()
    flyte_remote.abort(name, reason="released by the test")
    waiter.join(30)
    assert not waiter.is_alive()
    assert hanging.phase == "aborted"
    assert flyte_remote.runs[name].phase == "ABORTED"
    assert flyte_remote.runs[name].root.process is None  # never executed


def test_hung_runs_take_no_executor_slot(flyte_remote: ControlPlane) -> None:
    """More hung runs than root slots still leave a slot for the next run (no deadlock at random)."""
    prefix = _unique("slot-hang")
    flyte_remote.faults.hang_runs(lambda target: target.run_name.startswith(prefix))
    hung = [_remote(name=f"{prefix}-{n}").run(tasks.square, n) for n in range(3)]  # the default: 2 root slots
    for run in hung:
        flyte_remote.wait_for_phase(run.name, ["RUNNING"])
    free = _remote().run(tasks.square, 7)
    free.wait(quiet=True)
    assert free.phase == "succeeded"
    assert [flyte_remote.runs[run.name].phase for run in hung] == ["RUNNING"] * 3


def test_rpc_latency_is_injected(flyte_remote: ControlPlane) -> None:
    """Per-RPC latency delays submission by at least the configured time."""
    flyte_remote.faults.set_record_only("queued")
    flyte_remote.faults.add_latency("CreateRun", 0.4)
    start = time.monotonic()
    _remote().run(tasks.add, 1, 1)
    assert time.monotonic() - start >= 0.4


def test_config_file_and_subprocess_env(control_plane: ControlPlane, tmp_path) -> None:
    """The written config and env() point a fresh process at the loopback endpoint."""
    path = control_plane.write_flyte_config(tmp_path / "config.yaml")
    text = path.read_text()
    assert control_plane.endpoint in text and "insecure: true" in text
    env = control_plane.env(path)
    assert env["FLYTECTL_CONFIG"] == str(path)
    assert env["DO_NOT_TRACK"] == "1"
    assert env["HOME"] == str(control_plane.home)


def test_sdk_private_symbols_exist() -> None:
    """Fails loudly if flyte moves the private init state `_sdk_private` restores."""
    import flyte._initialize as initialize

    assert hasattr(initialize, _sdk_private.INIT_CONFIG_ATTR)
    assert hasattr(initialize, "_init_lock")
    with _sdk_private.restored_flyte_init():
        pass


_SUBPROCESS_SCRIPT = """
import flyte
import loopback_pod_tasks

flyte.init_from_config()
run = flyte.with_runcontext(mode="remote").run(loopback_pod_tasks.greet, "pod")
run.wait(quiet=True)
print("RESULT", run.name, run.outputs()[0])
"""


def test_subprocess_client_with_config_runs_pod_template_task(control_plane: ControlPlane, tmp_path) -> None:
    """A separate process configured only by env() submits a pod-template task that runs for real."""
    control_plane.reset()
    env = control_plane.env(control_plane.write_flyte_config(tmp_path / "config.yaml"))
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_SCRIPT],
        cwd=Path(tasks.__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    _, name, value = done.stdout.strip().splitlines()[-1].split(" ", 2)
    assert value == "hello pod"

    created = control_plane.requests.created_run(name)
    assert created.task_spec.task_template.HasField("k8s_pod")
    assert created.image == "example.com/pod-image:v1"
    assert created.resources["requests"] == {"cpu": "1", "memory": "512Mi"}
    assert control_plane.runs[name].project == control_plane.project


def test_unknown_methods_answer_unimplemented(control_plane: ControlPlane) -> None:
    """Methods the loopback does not implement answer UNIMPLEMENTED rather than hanging or 500-ing."""
    from connectrpc.errors import ConnectError
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_service_connect, run_service_pb2

    client = run_service_connect.RunServiceClientSync(control_plane.endpoint)
    with pytest.raises(ConnectError) as info:
        # A valid request (the hosted profile refuses an invalid one first, with INVALID_ARGUMENT).
        action = identifier_pb2.ActionIdentifier(
            run=identifier_pb2.RunIdentifier(org="o", project="p", domain="d", name="r"), name="a0"
        )
        client.get_action_log_context(run_service_pb2.GetActionLogContextRequest(action_id=action, attempt=1))
    assert info.value.code == Code.UNIMPLEMENTED
