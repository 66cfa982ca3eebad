"""Detached sweeps under the real control planes' rules and faults: the driver run's CreateRun answered late,
lost, refused, full or taken by someone else; and a submitter killed before the answer.

Run under both loopback profiles (run_each_file.py, BOTH_PROFILES): the open-source backend answers a
taken name with OK and the existing run, the hosted ones with ALREADY_EXISTS.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from connectrpc.code import Code
from detached_support import FLYTE, SMALL, control_plane_with_children, copy_project, flyte
from flyte_loopback import ControlPlane, run_named
from flyte_loopback.runs import SUCCEEDED

GRID = ("hydra_tasks.py", "objective", "--cfg", "optimizer.lr=0.1,0.2,0.3")


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from control_plane_with_children(
        tmp_path_factory, control_plane, "control-plane-detached-faults", child_slots=3
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, "hydra_tasks.py")


def manifest(project: Path, sweep_dir: str) -> dict:
    return json.loads((project / sweep_dir / "flyte-sweep.json").read_text())


def test_a_lost_reply_to_the_drivers_create_run_is_adopted_once(cp: ControlPlane, project: Path) -> None:
    cp.reset()
    cp.faults.lose_create_run_replies(1)  # created, then the answer is lost: the retry finds it
    result = flyte(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
                   "--hydra-override", "hydra.sweep.dir=lost", *GRID)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (created,) = cp.requests.created_runs()
    assert len([a for a in cp.run(created.name).actions.values() if a.parent]) == 3
    jobs = json.loads(result.stdout)["jobs"]
    assert [j["value"] for j in jobs] == pytest.approx([0.2, 0.4, 0.6])
    assert manifest(project, "lost")["driver"]["url"]


def test_a_taken_sweep_name_is_never_reported_as_ours(cp: ControlPlane, project: Path) -> None:
    cp.reset()
    other = flyte(cp, project, "hydra", "run", *SMALL, "--name", "taken", "hydra_tasks.py", "objective")
    assert other.returncode == 0, other.stderr
    result = flyte(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
                   "--name", "taken", "--hydra-override", "hydra.sweep.dir=taken", *GRID)  # fmt: skip
    assert result.returncode != 0
    assert "taken" in result.stderr and "another" in result.stderr.lower() or "not this" in result.stderr
    assert [c.name for c in cp.requests.created_runs()] == [
        "taken"
    ]  # the other run's own: the sweep created none
    assert not [a for a in cp.run("taken").actions.values() if a.parent]
    jobs = manifest(project, "taken")["jobs"]
    assert {j["phase"] for j in jobs} == {"SUBMIT_FAILED"} and all(j["value"] is None for j in jobs)
    status = flyte(cp, project, "-of", "json", "hydra", "status", "taken")
    assert {j["phase"] for j in json.loads(status.stdout)["jobs"]} == {"SUBMIT_FAILED"}


def test_a_refused_driver_run_fails_every_job_with_the_control_planes_message(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    cp.faults.fail_create_run(1, Code.PERMISSION_DENIED, message="no runs for you")
    result = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--detach",
                   "--hydra-override", "hydra.sweep.dir=refused", *GRID)  # fmt: skip
    assert result.returncode != 0 and "no runs for you" in result.stderr
    assert cp.requests.created_runs() == []
    jobs = manifest(project, "refused")["jobs"]
    assert {j["phase"] for j in jobs} == {"SUBMIT_FAILED"} and all(
        "no runs for you" in j["error"] for j in jobs
    )


def test_a_full_quota_is_waited_out_for_the_driver(cp: ControlPlane, project: Path) -> None:
    cp.reset()
    cp.faults.set_run_quota(1)
    cp.faults.hang_runs(run_named("blocker"))  # the one run in holds the quota until it is aborted
    blocker = flyte(
        cp, project, "hydra", "run", *SMALL, "--no-wait", "--name", "blocker", "hydra_tasks.py", "objective"
    )
    assert blocker.returncode == 0, blocker.stderr
    sweep = subprocess.Popen(
        [str(FLYTE), "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
         "--hydra-override", "hydra.sweep.dir=quota", *GRID],
        cwd=project, env={**cp.env(), "COLUMNS": "400"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: any(r.error == Code.RESOURCE_EXHAUSTED for r in cp.requests.of("RunService/CreateRun")),
            120,
        )
        assert sweep.poll() is None, "the sweep gave up on a full quota"
        cp.abort("blocker")  # capacity comes back: the driver gets in
        out, err = sweep.communicate(timeout=300)
    finally:
        sweep.kill()
    cp.faults.set_run_quota(None)
    assert sweep.returncode == 0, err
    assert [j["phase"] for j in json.loads(out)["jobs"]] == ["SUCCEEDED"] * 3


def test_a_driver_named_on_disk_but_never_answered_is_looked_up_by_status(
    cp: ControlPlane, project: Path
) -> None:
    """The submitter killed between the CreateRun and its answer: the manifest names the driver, no URL."""
    cp.reset()
    cp.faults.lose_create_run_replies(1, code=Code.DEADLINE_EXCEEDED)
    cp.faults.fail_create_run(2, Code.UNAVAILABLE, times=50)  # and every retry after it: out of reach
    result = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--detach",
                   "--hydra-override", "hydra.sweep.dir=killed", *GRID, timeout=600)  # fmt: skip
    assert result.returncode != 0
    recorded = manifest(project, "killed")
    name = recorded["driver"]["run_name"]
    assert recorded["driver"]["url"] is None and {j["phase"] for j in recorded["jobs"]} == {"PLANNED"}
    cp.faults.clear()
    assert [c.name for c in cp.requests.created_runs()] == [name]
    cp.wait_for_phase(name, ["SUCCEEDED"], timeout=300)
    status = flyte(cp, project, "-of", "json", "hydra", "status", "killed")
    assert status.returncode == 0, status.stderr
    jobs = json.loads(status.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED"] * 3 and [j["value"] for j in jobs] == pytest.approx(
        [0.2, 0.4, 0.6]
    )
    assert cp.run(name).root.phase == SUCCEEDED
