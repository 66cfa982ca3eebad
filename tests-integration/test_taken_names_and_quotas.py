"""A real control plane's answers, never mistaken for ours; its quotas waited out.

Against a loopback control plane of each profile: open-source answers a CreateRun for a taken name
OK with the run that holds it, hosted answers ALREADY_EXISTS; both answer RESOURCE_EXHAUSTED past
a quota of unfinished runs. Through the SDK, `flyte hydra run` and a `@hydra.main` app:

- a sweep whose later job's planned name is taken reports a clash for that job, never the other
  run's value, and ends non-zero; the other run is left alone;
- a 12-job sweep under a quota of 3 unfinished runs ends with 12 SUCCEEDED, one run per job;
- a job still waiting for capacity when the bound passes, or at Ctrl-C, is not submitted (PLANNED)
  and `--resume` submits it under its planned name.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import wait_until
from connectrpc.code import Code
from flyte_loopback import ControlPlane
from hydra_tasks import objective

from hydra_flyte import (
    RunNameClashError,
    SweepFailedError,
    WaitingForCapacityError,
    hydra_run,
    hydra_sweep,
    load_manifest,
)

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
FLYTE = Path(sys.executable).with_name("flyte")
SMALL = ("--config-path", "conf", "--config-name", "training")
FOREIGN_LR, FOREIGN_VALUE = "7.25", 14.5  # the other run's value: never reported as a job's

pytestmark = pytest.mark.slow


@pytest.fixture
def cp(cp_each_profile: ControlPlane) -> ControlPlane:
    """A control plane of each profile in turn (conftest's cp_each_profile); `project` is conftest's."""
    return cp_each_profile


def unique(prefix: str) -> str:
    """A run name prefix no earlier test used (a control plane keeps every name for good)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def lrs(n: int) -> str:
    return "optimizer.lr=" + ",".join(str(i + 1) for i in range(n))


def flyte_cli(cp: ControlPlane, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cp.env(cp.write_flyte_config(cwd / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    return subprocess.run([str(FLYTE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def launcher_app(cp: ControlPlane, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cp.env(cp.write_flyte_config(cwd / "flyte-app.yaml"))
    return subprocess.run([sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def take(cp: ControlPlane, name: str, tmp_path: Path) -> None:
    """A single run, of no sweep, that holds `name` (its value is FOREIGN_VALUE)."""
    result = hydra_run(objective, config_path=CONF, config_name="training",
                       overrides=[f"optimizer.lr={FOREIGN_LR}", f"hydra.run.dir={tmp_path / 'foreign'}"],
                       run_options={"name": name})  # fmt: skip
    assert float(result) == FOREIGN_VALUE


def answered_for(cp: ControlPlane, name: str) -> str:
    """How the control plane answered the sweep's CreateRun for `name` (after the run that holds it was created)."""
    if name in cp.requests.adopted_runs():
        return "OK with the existing run"
    later = [r for r in cp.requests.of("RunService/CreateRun") if r.request.run_id.name == name][1:]
    return " ".join(sorted({str(r.error) for r in later}))


def assert_left_alone(cp: ControlPlane, name: str) -> None:
    run = cp.runs[name]
    assert run.phase == "SUCCEEDED" and "hydra-flyte-sweep" not in run.labels, (
        "the other run is left as it was"
    )
    assert name not in {r.request.run_id.name for r in cp.requests.of("RunService/AbortRun")}


# ---------------------------------------------------------------- taken names


def test_sdk_a_taken_later_job_name_is_that_jobs_clash(cp: ControlPlane, tmp_path: Path) -> None:
    """The issue's case: `exp-1` is a single run's; a sweep named `exp` must not report its value as job 1's."""
    base = unique("exp")
    take(cp, f"{base}-1", tmp_path)
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=[lrs(3), f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                    run_options={"name": base}, submit_max_workers=1)  # fmt: skip
    expected = "OK with the existing run" if cp.profile == "open-source" else str(Code.ALREADY_EXISTS)
    assert answered_for(cp, f"{base}-1") == expected
    outcomes = info.value.outcomes
    assert outcomes[0].error is None and float(outcomes[0].result) == 2.0
    assert isinstance(outcomes[1].error, RunNameClashError)
    assert outcomes[1].error.run_name == f"{base}-1" and "not part of any hydra-flyte sweep" in str(
        outcomes[1].error
    )
    assert outcomes[1].result is None and all(
        FOREIGN_VALUE != getattr(o.result, "value", None) for o in outcomes
    )
    manifest = load_manifest(tmp_path / "sweep")
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED", "SUBMIT_FAILED", "NOT_SUBMITTED"]
    assert [r.value for r in manifest.records()] == [2.0, None, None]
    assert FOREIGN_VALUE not in [r.value for r in manifest.records()]
    assert_left_alone(cp, f"{base}-1")


def test_cli_a_taken_later_job_name_exits_1_without_the_other_runs_value(
    cp: ControlPlane, project: Path
) -> None:
    base = unique("cli")
    take(cp, f"{base}-2", project)
    result = flyte_cli(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--name", base,
                       "--submit-max-workers", "1", "hydra_tasks.py", "objective", "--cfg", lrs(3),
                       "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    jobs = {job["job"]: job for job in document["jobs"]}
    assert [jobs[n]["phase"] for n in range(3)] == ["SUCCEEDED", "SUCCEEDED", "SUBMIT_FAILED"]
    assert jobs[2]["value"] is None and f"'{base}-2'" in jobs[2]["error"]
    assert str(FOREIGN_VALUE) not in result.stdout, "the other run's value is never reported"
    assert_left_alone(cp, f"{base}-2")


def test_launcher_a_taken_later_job_name_exits_1_without_the_other_runs_value(
    cp: ControlPlane, project: Path
) -> None:
    base = unique("app")
    take(cp, f"{base}-1", project)
    result = launcher_app(cp, project, lrs(3), f"hydra.launcher.run_options.name={base}",
                          "hydra.launcher.submit_max_workers=1", "hydra.launcher.summary=json-raw",
                          f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("{")]
    jobs = {job["job"]: job for job in json.loads(line)["jobs"]}
    assert [jobs[n]["phase"] for n in range(3)] == ["SUCCEEDED", "SUBMIT_FAILED", "NOT_SUBMITTED"]
    assert jobs[1]["value"] is None and f"'{base}-1'" in jobs[1]["error"]
    assert str(FOREIGN_VALUE) not in result.stdout
    assert_left_alone(cp, f"{base}-1")


# ---------------------------------------------------------------- quotas


def quota_hit(cp: ControlPlane) -> int:
    return sum(1 for r in cp.requests.of("RunService/CreateRun") if r.error == Code.RESOURCE_EXHAUSTED)


def one_run_per_job(cp: ControlPlane, names: list[str]) -> None:
    created = sorted(c.name for c in cp.requests.created_runs())
    assert created == sorted(names), "one run per job, under its planned name"


def test_sdk_12_jobs_under_a_quota_of_3_all_succeed(
    cp: ControlPlane, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cp.faults.set_run_quota(3)
    results = hydra_sweep(objective, config_path=CONF, config_name="training",
                          overrides=[lrs(12), f"hydra.sweep.dir={tmp_path / 'sweep'}"])  # fmt: skip
    assert [float(r) for r in results] == [2.0 * (n + 1) for n in range(12)]
    manifest = load_manifest(tmp_path / "sweep")
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED"] * 12
    one_run_per_job(cp, [r.run_name for r in manifest.records()])
    assert quota_hit(cp) > 0, "the quota turned submissions away"
    err = capfd.readouterr().err
    assert "the control plane's quota is full (RESOURCE_EXHAUSTED: quota exceeded" in err
    assert "not submitted yet" in err and "every job waiting got in" in err


def test_cli_12_jobs_under_a_quota_of_3_all_succeed(cp: ControlPlane, project: Path) -> None:
    cp.faults.set_run_quota(3)
    result = flyte_cli(cp, project, "-of", "json", "hydra", "run", *SMALL, "--multirun", "hydra_tasks.py",
                       "objective", "--cfg", lrs(12), "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert [(j["phase"], j["value"]) for j in jobs] == [("SUCCEEDED", 2.0 * (n + 1)) for n in range(12)]
    one_run_per_job(cp, [j["run_name"] for j in jobs])
    assert quota_hit(cp) > 0 and "waiting for capacity" in result.stderr


def test_launcher_12_jobs_under_a_quota_of_3_all_succeed(cp: ControlPlane, project: Path) -> None:
    cp.faults.set_run_quota(3)
    result = launcher_app(cp, project, lrs(12), "hydra.launcher.summary=json-raw",
                          f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("{")]
    jobs = json.loads(line)["jobs"]
    assert [(j["phase"], j["value"]) for j in jobs] == [("SUCCEEDED", 2.0 * (n + 1)) for n in range(12)]
    one_run_per_job(cp, [j["run_name"] for j in jobs])
    assert quota_hit(cp) > 0 and "waiting for capacity" in result.stderr


def test_past_the_bound_jobs_stay_unsubmitted_and_resume_submits_them(
    cp: ControlPlane, tmp_path: Path
) -> None:
    cp.faults.set_run_quota(0)  # nothing gets in
    sweep = tmp_path / "sweep"
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=[lrs(3), f"hydra.sweep.dir={sweep}"],
                    capacity_timeout_seconds=1)  # fmt: skip
    assert all(isinstance(o.error, WaitingForCapacityError) for o in info.value.outcomes)
    assert "quota stayed full for 1 s" in str(info.value)
    manifest = load_manifest(sweep)
    assert [r.phase for r in manifest.records()] == ["PLANNED"] * 3, "not submitted, never FAILED"
    assert not cp.requests.created_runs()
    cp.faults.set_run_quota(None)
    results = hydra_sweep(objective, config_path=CONF, config_name="training", overrides=[lrs(3)],
                          resume=sweep)  # fmt: skip
    assert [float(r) for r in results] == [2.0, 4.0, 6.0]
    resumed = load_manifest(sweep)
    assert [r.phase for r in resumed.records()] == ["SUCCEEDED"] * 3
    assert [r.run_name for r in resumed.records()] == [r.run_name for r in manifest.records()], (
        "planned names"
    )
    one_run_per_job(cp, [r.run_name for r in manifest.records()])


def test_ctrl_c_while_jobs_wait_for_capacity_then_resume(cp: ControlPlane, project: Path) -> None:
    """Ctrl-C treats a job waiting for capacity as not yet submitted: PLANNED, and `--resume` submits it."""
    base = unique("qc")
    cp.faults.set_run_quota(1)
    cp.faults.hang_runs(lambda target: True)  # the one run that got in holds the quota
    env = cp.env(cp.write_flyte_config(project / "flyte-cli.yaml"))
    args = ["hydra", "run", *SMALL, "--multirun", "--name", base, "hydra_tasks.py", "objective", "--cfg", lrs(4),
            "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}"]  # fmt: skip
    proc = subprocess.Popen([str(FLYTE), *args], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_until(lambda: quota_hit(cp) >= 6, timeout=120, interval=0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "Interrupted while submitting: 1 of 4 jobs submitted" in err, err
    assert "--resume" in err
    manifest = load_manifest(project / "sweep")
    phases = [r.phase for r in manifest.records()]
    assert sorted(phases) == ["PLANNED", "PLANNED", "PLANNED", "SUBMITTED"], phases
    (held,) = [r.run_name for r in manifest.records() if r.phase == "SUBMITTED"]
    assert [c.name for c in cp.requests.created_runs()] == [held], "only the run that got in exists"

    cp.faults.clear()  # no quota, nothing hangs
    cp.abort(held)  # the run that held the quota (it would hang for ever)
    resumed = flyte_cli(cp, project, "hydra", "run", "--resume", str(project / "sweep"), *args[2:])
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr  # the held run's true end: ABORTED
    records = load_manifest(project / "sweep").records()
    planned = {r.job: r.run_name for r in manifest.records() if r.phase == "PLANNED"}
    for record in records:
        if record.job in planned:
            assert (record.phase, record.run_name) == ("SUCCEEDED", planned[record.job]), "its planned name"
            assert record.value == 2.0 * (record.job + 1)
        else:
            assert (record.phase, record.run_name) == ("ABORTED", held)
    again = flyte_cli(cp, project, "hydra", "run", "--resume", str(project / "sweep"), *args[2:])
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r.phase for r in load_manifest(project / "sweep").records()] == ["SUCCEEDED"] * 4
    created = [c.name for c in cp.requests.created_runs()]
    assert sorted(created) == sorted([held, f"{held}-r1", *planned.values()]), (
        "one run per job, and the aborted one"
    )


def test_a_single_run_waits_for_capacity_too(cp: ControlPlane, tmp_path: Path) -> None:
    """hydra_run: turned away, it waits (not FAILED) and gets in once the run holding the quota ends."""
    import threading

    holder = unique("hold")
    cp.faults.set_run_quota(1)
    cp.faults.hang_runs(lambda target: target.run_name == holder)
    hydra_run(objective, config_path=CONF, config_name="training", overrides=[f"hydra.run.dir={tmp_path / 'h'}"],
              run_options={"name": holder}, wait=False)  # fmt: skip
    with pytest.raises(WaitingForCapacityError, match="quota stayed full for 1 s"):
        hydra_run(objective, config_path=CONF, config_name="training", overrides=[f"hydra.run.dir={tmp_path / 'a'}"],
                  capacity_timeout_seconds=1)  # fmt: skip
    threading.Timer(3.0, cp.abort, args=(holder,)).start()  # the quota frees while the next run waits
    result = hydra_run(objective, config_path=CONF, config_name="training",
                       overrides=["optimizer.lr=3", f"hydra.run.dir={tmp_path / 'b'}"])  # fmt: skip
    assert float(result) == 6.0
    assert quota_hit(cp) >= 2 and len(cp.requests.created_runs()) == 2, (
        "the holder and this run, nothing else"
    )
