"""Sweeps users can trust, against the loopback control plane: manifest, kill, Ctrl-C, rerun, fail_fast, dry run."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_until
from flyte_loopback import ControlPlane
from flyte_loopback.faults import run_named
from hydra_tasks import fails_for_sgd, objective

from hydra_flyte import DryRunPlan, SweepFailedError, hydra_sweep, load_manifest, rerun_failed, sweep_status

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")

pytestmark = pytest.mark.slow


def start_driver(
    cp: ControlPlane, project: Path, name: str, jobs: int, **options: object
) -> subprocess.Popen[str]:
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    args = [f"{k}={json.dumps(v)}" for k, v in options.items()]
    return subprocess.Popen([sys.executable, "sweep_driver.py", "sweep", name, str(jobs), *args], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def flyte_cli(cp: ControlPlane, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `flyte` command of this environment, pointed at the control plane."""
    flyte = Path(sys.executable).with_name("flyte")
    env = cp.env(cp.write_flyte_config(cwd / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    return subprocess.run([str(flyte), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_manifest_records_every_job_privately_and_without_secrets(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    results = hydra_sweep(
        objective, config_path=CONF, config_name="training",
        overrides=["optimizer.lr=0.25,0.5", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        run_options={"name": "man", "env_vars": {"API_TOKEN": "s3cr3t"}, "labels": {"team": "ml"}},
    )  # fmt: skip
    path = tmp_path / "sweep" / "flyte-sweep.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cr3t" not in text and "API_TOKEN" in text
    manifest = load_manifest(path)
    assert manifest.task == "hydra_it.objective"
    assert manifest.endpoint == flyte_remote.endpoint
    assert [(r.job, r.overrides, r.run_name, r.phase) for r in manifest.records()] == [
        (0, ["optimizer.lr=0.25"], "man-0", "SUCCEEDED"),
        (1, ["optimizer.lr=0.5"], "man-1", "SUCCEEDED"),
    ]
    assert [r.value for r in manifest.records()] == [float(r) for r in results]
    assert all(r.url == res.url for r, res in zip(manifest.records(), results, strict=True))
    for created in flyte_remote.requests.created_runs():
        assert created.labels["hydra-flyte-sweep"] == manifest.sweep_id
        assert created.labels["team"] == "ml"
    assert sorted(c.labels["hydra-flyte-job"] for c in flyte_remote.requests.created_runs()) == ["0", "1"]
    assert load_manifest(manifest.sweep_id).path == path, "a sweep id finds its manifest"


def test_sigkill_halfway_leaves_every_received_run_in_the_manifest(
    flyte_remote: ControlPlane, project: Path
) -> None:
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.6)
    proc = start_driver(flyte_remote, project, "kill", 6, submit_max_workers=1)
    wait_until(lambda: len(flyte_remote.requests.of("RunService/CreateRun")) >= 3, interval=0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    received = {r.request.run_id.name for r in flyte_remote.requests.of("RunService/CreateRun")}
    time.sleep(1.0)  # any CreateRun still being delayed lands now
    received |= {r.request.run_id.name for r in flyte_remote.requests.of("RunService/CreateRun")}
    manifest = load_manifest(project / "sweep")
    named = {r.run_name for r in manifest.records()}
    assert received and received <= named, f"received {received}, manifest names {named}"
    flyte_remote.faults.clear()
    cli = flyte_cli(flyte_remote, project, "hydra", "status", str(project / "sweep"), "--wait")
    assert "SUCCEEDED" in cli.stdout and cli.returncode in (0, 1), (
        cli.stdout + cli.stderr
    )  # 1: NOT_SUBMITTED jobs
    status = sweep_status(project / "sweep", wait=True)
    phases = {r.run_name: r.phase for r in status.records()}
    assert all(phases[name] == "SUCCEEDED" for name in received)
    assert set(phases.values()) <= {"SUCCEEDED", "NOT_SUBMITTED"}
    assert [r.value for r in status.records() if r.phase == "SUCCEEDED"] == [
        float(r.job + 1) * 2 for r in status.records() if r.phase == "SUCCEEDED"
    ]


@pytest.mark.parametrize("abort", [False, True])
def test_sigint_while_waiting(flyte_remote: ControlPlane, project: Path, abort: bool) -> None:
    flyte_remote.faults.hang_runs(lambda target: True)
    proc = start_driver(flyte_remote, project, f"int{int(abort)}", 3, abort_on_interrupt=abort)
    wait_until(lambda: len(flyte_remote.requests.of("RunService/WatchActionDetails")) >= 3, interval=0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT), out
    assert "Reattach with: flyte hydra status" in out
    manifest = load_manifest(project / "sweep")
    assert manifest.interrupted
    names = [f"int{int(abort)}-{n}" for n in range(3)]
    assert [r.run_name for r in manifest.records()] == names
    aborted = {r.request.run_id.name for r in flyte_remote.requests.of("RunService/AbortRun")}
    if abort:
        assert aborted == set(names)
        assert {r.phase for r in manifest.records()} == {"ABORTED"}
        assert "aborted 3 unfinished run(s)" in out
    else:
        assert not aborted
        assert {flyte_remote.runs[name].phase for name in names} <= {"QUEUED", "RUNNING"}, "the runs go on"


def test_rerun_failed_resubmits_only_the_failed_job(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    flyte_remote.faults.fail_runs(run_named("rr-1"), "injected: node lost")
    with pytest.raises(SweepFailedError):
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=["optimizer.lr=1,2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                    run_options={"name": "rr"})  # fmt: skip
    manifest = load_manifest(tmp_path / "sweep")
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "injected: node lost" in manifest.records()[1].error
    status = flyte_cli(flyte_remote, tmp_path, "hydra", "status", str(tmp_path / "sweep"))
    assert status.returncode == 1 and "injected: node lost" in status.stdout, status.stdout + status.stderr
    flyte_remote.faults.clear()
    creates_before = len(flyte_remote.requests.created_runs())
    after = rerun_failed(tmp_path / "sweep")
    new_runs = flyte_remote.requests.created_runs()[creates_before:]
    assert [c.name for c in new_runs] == ["rr-1-r1"]
    assert [r.phase for r in after.records()] == ["SUCCEEDED"] * 3
    assert [r.value for r in after.records()] == [2.0, 4.0, 6.0]
    assert after.records()[1].attempts[0]["run_name"] == "rr-1"
    assert load_manifest(tmp_path / "sweep").records()[1].run_name == "rr-1-r1", "written back to disk"
    again = flyte_cli(flyte_remote, tmp_path, "hydra", "status", after.sweep_id, "--wait")
    assert again.returncode == 0 and "3 succeeded" in again.stdout, again.stdout + again.stderr


def test_cli_rerun_failed(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    flyte_remote.faults.fail_runs(run_named("cr-0"), "injected: preempted")
    with pytest.raises(SweepFailedError):
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=["optimizer.lr=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                    run_options={"name": "cr"})  # fmt: skip
    flyte_remote.faults.clear()
    rerun = flyte_cli(flyte_remote, tmp_path, "hydra", "rerun", str(tmp_path / "sweep"), "--failed")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert [c.name for c in flyte_remote.requests.created_runs()][-1] == "cr-0-r1"
    assert [r.phase for r in load_manifest(tmp_path / "sweep").records()] == ["SUCCEEDED", "SUCCEEDED"]


def test_fail_fast_aborts_the_runs_still_going(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    flyte_remote.faults.hang_runs(lambda target: target.run_name != "ff-1")
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(fails_for_sgd, config_path=CONF, config_name="training",
                    overrides=["optimizer=adam,sgd,adam", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                    run_options={"name": "ff"}, fail_fast=True)  # fmt: skip
    phases = [getattr(o.error, "phase", "SUCCEEDED") for o in info.value.outcomes]
    assert phases == ["ABORTED", "FAILED", "ABORTED"]
    aborted = {r.request.run_id.name for r in flyte_remote.requests.of("RunService/AbortRun")}
    assert aborted == {"ff-0", "ff-2"}


def test_dry_run_submits_nothing(
    flyte_remote: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans = hydra_sweep(objective, config_path=CONF, config_name="training",
                        overrides=["optimizer.lr=1,2", "+task_env=big", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                        run_options={"name": "dry"}, dry_run=True)  # fmt: skip
    assert all(isinstance(p, DryRunPlan) for p in plans)
    assert [p.run_name for p in plans] == ["dry-0", "dry-1"]
    assert plans[0].task_env["resources"] == {"cpu": "3", "memory": "3Gi"}
    out = capsys.readouterr().out
    assert "job 0 [optimizer.lr=1 +task_env=big]" in out and "dry-1" in out
    assert flyte_remote.requests.all() == []


def test_dry_run_names_a_job_that_does_not_compose(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    from hydra_flyte import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"for the job \[optimizer\.lr=1 \+task_env=nope\]"):
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=["optimizer.lr=1,2", "+task_env=big,nope"], dry_run=True)  # fmt: skip
    assert flyte_remote.requests.all() == []


def test_fire_and_forget_sweep_completed_later_by_status(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    runs = hydra_sweep(objective, config_path=CONF, config_name="training",
                       overrides=["optimizer.lr=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"], wait=False)  # fmt: skip
    assert [r.phase for r in load_manifest(tmp_path / "sweep").records()] == ["SUBMITTED", "SUBMITTED"]
    for run in runs:
        flyte_remote.wait_for_phase(run.name, ("SUCCEEDED",), timeout=60)
    status = sweep_status(tmp_path / "sweep")
    assert [(r.phase, r.value) for r in status.records()] == [("SUCCEEDED", 2.0), ("SUCCEEDED", 4.0)]
    assert os.environ.get("DO_NOT_TRACK") == "1"
