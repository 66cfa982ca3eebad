"""Detached sweeps (`--detach`): the whole sweep as one run whose driver task runs each job as a child action.

Against the loopback control plane, with every child action executed for real: the submitting
command returns once the driver run is created, the control plane holds one run with one child
action per job (at most `--max-concurrency` running at once), `status` shows the children's phases
while the driver runs and every value once it ends, and the values are those of an attached sweep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from detached_support import SMALL, children, control_plane_with_children, copy_project, flyte
from flyte_loopback import ControlPlane
from flyte_loopback.runs import RUNNING, SUCCEEDED, phase_name

# 40 jobs: 2 models x 20 learning rates.
LRS = [round(0.05 * (i + 1), 2) for i in range(20)]
GRID = ("--cfg", "model=small,large", "--cfg", "optimizer.lr=" + ",".join(str(lr) for lr in LRS))


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from control_plane_with_children(tmp_path_factory, control_plane, "control-plane-detached")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, "hydra_tasks.py", "slow_tasks.py")


def test_a_40_job_detached_sweep_is_one_run_of_40_child_actions_with_the_attached_values(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    started = time.monotonic()
    result = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--detach", "--max-concurrency", "3",
                   "--hydra-override", "hydra.sweep.dir=detached", "hydra_tasks.py", "objective", *GRID)  # fmt: skip
    submit_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    (created,) = cp.requests.created_runs()
    driver = created.name
    manifest = json.loads((project / "detached" / "flyte-sweep.json").read_text())
    assert manifest["driver"]["run_name"] == driver and manifest["driver"]["max_concurrency"] == 3
    assert {j["run_name"] for j in manifest["jobs"]} == {driver} and len(manifest["jobs"]) == 40
    assert f"flyte hydra status {project / 'detached' / 'flyte-sweep.json'}" in result.stderr
    # The command returned while the sweep goes on: the driver had not ended.
    assert not cp.run(driver).root.done, (
        f"the sweep ended before the command returned ({submit_seconds:.1f} s)"
    )

    # status while it runs: the children's true phases.
    during = flyte(cp, project, "-of", "json", "hydra", "status", "detached")
    assert during.returncode in (0, 1), during.stderr
    seen = {j["job"]: j["phase"] for j in json.loads(during.stdout)["jobs"]}
    truth = {a.group: phase_name(a.phase) for a in children(cp, driver)}
    for job, phase in seen.items():
        if f"job-{job}" in truth and phase in ("SUCCEEDED", "FAILED"):
            assert truth[f"job-{job}"] == phase

    cp.wait_for_phase(driver, ["SUCCEEDED"], timeout=600)
    kids = children(cp, driver)
    assert len(kids) == 40 and {a.group for a in kids} == {f"job-{n}" for n in range(40)}
    assert all(a.phase == SUCCEEDED for a in kids)
    # At most 3 ran at once: from each child's RUNNING..end interval.
    spans = sorted((a.started_at, a.ended_at) for a in kids)
    peak = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert peak <= 3, peak

    after = flyte(cp, project, "-of", "json", "hydra", "status", "detached")
    assert after.returncode == 0, after.stderr
    jobs = json.loads(after.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED"] * 40
    assert all(j["action"] for j in jobs)
    depth = {"small": 2, "large": 10}
    expected = [lr * depth[m] for m in ("small", "large") for lr in LRS]
    assert [j["value"] for j in jobs] == pytest.approx(expected)

    # An attached sweep of the same jobs gives the same values.
    attached = flyte(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--hydra-override",
                     "hydra.sweep.dir=attached", "hydra_tasks.py", "objective", *GRID)  # fmt: skip
    assert attached.returncode == 0, attached.stderr
    assert [j["value"] for j in json.loads(attached.stdout)["jobs"]] == [j["value"] for j in jobs]


def test_a_detached_sweep_waited_on_prints_the_one_summary_and_a_failed_job_fails_the_command(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    result = flyte(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
                   "--hydra-override", "hydra.sweep.dir=waited", "hydra_tasks.py", "fails_for_sgd",
                   "--cfg", "optimizer=adam,sgd")  # fmt: skip
    assert result.returncode == 1, result.stderr
    (created,) = cp.requests.created_runs()
    assert cp.run(created.name).root.phase == SUCCEEDED  # a failing child does not fail the driver
    jobs = json.loads(result.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED", "FAILED"]
    assert jobs[0]["value"] == pytest.approx(0.001) or isinstance(jobs[0]["value"], float)
    assert "loss exploded" in jobs[1]["error"]


def test_detach_is_refused_for_a_single_run_local_mode_and_a_batched_sweeper_with_nothing_submitted(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    single = flyte(cp, project, "hydra", "run", *SMALL, "--detach", "hydra_tasks.py", "objective")
    local = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--local", "--detach", "hydra_tasks.py",
                  "objective", "--cfg", "model=small,large")  # fmt: skip
    for result in (single, local):
        assert result.returncode == 2, result.stderr
        assert "--detach" in result.stderr
    batched = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--detach", "--hydra-override",
                    "hydra.sweeper.max_batch_size=1", "hydra_tasks.py", "objective", "--cfg", "model=small,large")  # fmt: skip
    assert batched.returncode == 2, batched.stderr
    assert "launches its jobs batch after batch" in batched.stderr and "drop detach" in batched.stderr
    assert cp.requests.created_runs() == []


def test_a_killed_driver_retried_runs_no_succeeded_child_twice(cp: ControlPlane, project: Path) -> None:
    cp.reset()
    result = flyte(cp, project, "hydra", "run", *SMALL, "--multirun", "--detach", "--max-concurrency", "2",
                   "--hydra-override", "hydra.sweep.dir=evicted", "slow_tasks.py", "slow_objective", "--seconds", "3",
                   "--cfg", "optimizer.lr=" + ",".join(str(lr) for lr in LRS[:8]))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (created,) = cp.requests.created_runs()
    driver = created.name
    deadline = time.monotonic() + 120
    while sum(a.phase == SUCCEEDED for a in children(cp, driver)) < 2:
        assert time.monotonic() < deadline, "no child succeeded in time"
        time.sleep(0.1)
    done_before = {a.name for a in children(cp, driver) if a.phase == SUCCEEDED}
    cp.evict(driver)  # the driver's pod is lost: the control plane runs it again, same action id
    cp.wait_for_phase(driver, ["SUCCEEDED"], timeout=600)
    root = cp.run(driver).root
    assert root.attempt == 2 and len(root.past_attempts) == 1
    kids = children(cp, driver)
    assert len(kids) == 8 and sorted(a.group for a in kids) == sorted(f"job-{n}" for n in range(8))
    assert all(a.phase == SUCCEEDED for a in kids)
    for kid in kids:  # exactly one succeeded attempt each; the ones done before the kill never ran again
        assert kid.attempt == 1 and not kid.past_attempts
    assert done_before <= {a.name for a in kids}
    status = flyte(cp, project, "-of", "json", "hydra", "status", "evicted")
    assert status.returncode == 0, status.stderr
    assert [j["phase"] for j in json.loads(status.stdout)["jobs"]] == ["SUCCEEDED"] * 8
    assert RUNNING not in {a.phase for a in kids}


def test_rerun_failed_and_resume_run_only_the_failed_jobs_again_in_a_new_driver_run(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    command = ("hydra", "run", *SMALL, "--multirun", "--detach", "--wait", "--name", "grid",
               "--hydra-override", "hydra.sweep.dir=again", "hydra_tasks.py", "fails_for_sgd",
               "--cfg", "optimizer=adam,sgd")  # fmt: skip
    first = flyte(cp, project, *command)
    assert first.returncode == 1, first.stderr
    assert [c.name for c in cp.requests.created_runs()] == ["grid"]

    rerun = flyte(cp, project, "-of", "json", "hydra", "rerun", "again", "--failed")
    assert rerun.returncode == 1, rerun.stderr  # sgd fails again: the truth, not a success
    assert [c.name for c in cp.requests.created_runs()] == ["grid", "grid-r1"]
    (kid,) = children(cp, "grid-r1")
    assert kid.group == "job-1" and phase_name(kid.phase) == "FAILED"
    jobs = json.loads(rerun.stdout)["jobs"]
    assert (jobs[0]["phase"], jobs[0]["run_name"], jobs[0]["attempts"]) == ("SUCCEEDED", "grid", [])
    assert (jobs[1]["phase"], jobs[1]["run_name"]) == ("FAILED", "grid-r1")
    assert [a["run_name"] for a in jobs[1]["attempts"]] == ["grid"] and jobs[1]["action"] == kid.name

    resumed = flyte(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
                    "--name", "grid", "--resume", "again", "hydra_tasks.py", "fails_for_sgd",
                    "--cfg", "optimizer=adam,sgd")  # fmt: skip
    assert resumed.returncode == 1, resumed.stderr
    assert [c.name for c in cp.requests.created_runs()] == ["grid", "grid-r1", "grid-r2"]
    assert [a.group for a in children(cp, "grid-r2")] == ["job-1"]
    jobs = json.loads(resumed.stdout)["jobs"]
    assert jobs[0]["phase"] == "SUCCEEDED" and jobs[0]["value"] == pytest.approx(0.001)
    assert jobs[1]["run_name"] == "grid-r2" and len(jobs[1]["attempts"]) == 2
