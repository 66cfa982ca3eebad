"""`hydra/sweeper=optuna_async` resumed from its study's storage after a SIGKILL, against the loopback control plane.

The sweep runs in a subprocess (the SDK's optuna_driver.py, `flyte hydra run`, or a `@hydra.main`
app: trials of 1 to 2.5 s, executed for real) on a control plane of its own with 4 execution slots; it is killed
while trials are in flight, then the same command is run with the resume option.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from flyte_loopback import ControlPlane
from flyte_loopback._sdk_private import restored_flyte_init
from hydra_tasks import objective

from hydra_flyte import ConfigurationError, hydra_sweep, load_manifest

HERE = Path(__file__).resolve().parent
FLYTE = Path(sys.executable).with_name("flyte")
N_TRIALS = 10
N_JOBS = 3

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("optuna_tasks.py", "optuna_driver.py", "launcher_app.py", "hydra_tasks.py", "slow_tasks.py"):
        shutil.copy(HERE / name, root / name)
    return root


def creates(cp: ControlPlane) -> int:
    return len(cp.requests.of("RunService/CreateRun"))


def command(entry: str, storage: str, resume: str | None = None) -> list[str]:
    """The same sweep through the SDK (optuna_driver.py) or the CLI, into `sweep/`; plus the resume option."""
    if entry == "sdk":
        extra = [f"resume={resume}"] if resume else []
        return [sys.executable, "optuna_driver.py", "sweep", storage, str(N_TRIALS), str(N_JOBS), *extra]
    hydra = ["hydra/sweeper=optuna_async", f"hydra.sweeper.n_trials={N_TRIALS}", f"hydra.sweeper.n_jobs={N_JOBS}",
             "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=7", f"hydra.sweeper.storage={storage}",
             "hydra.sweep.dir=sweep"]  # fmt: skip
    if entry == "launcher":  # a @hydra.main app; its entry task sleeps +seconds
        extra = [f"hydra.launcher.resume={resume}"] if resume else []
        return [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", *hydra, "+task=slow_objective",
                "+seconds=interval(1.0,2.5)", "optimizer.lr=interval(0.01,1.0)", *extra]  # fmt: skip
    return [str(FLYTE), "hydra", "run", "--multirun", *(["--resume", resume] if resume else []),
            "--config-path", "conf", "--config-name", "training",
            *[word for override in hydra for word in ("--hydra-override", override)],
            "optuna_tasks.py", "timed_objective",
            "--cfg", "optimizer.lr=interval(0.01,1.0)", "--cfg", "+sleep=interval(1.0,2.5)"]  # fmt: skip


@pytest.mark.parametrize("entry", ["sdk", "cli", "launcher"])
def test_sigkill_mid_sweep_then_resume_tells_n_trials_with_one_run_each(
    cp4: ControlPlane, project: Path, entry: str
) -> None:
    cp = cp4
    cp.reset()
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    env["COLUMNS"] = "400"
    storage = f"sqlite:///{project / 'study.db'}"
    proc = subprocess.Popen(command(entry, storage), cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 180
    # The first N_JOBS trials and one refill: a trial was told, N_JOBS are in flight.
    while creates(cp) < N_JOBS + 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == -signal.SIGKILL, out
    killed_at = creates(cp)
    assert N_JOBS < killed_at < N_TRIALS, out[-3000:]
    time.sleep(0.3)  # a CreateRun on its way lands now
    sweep_id = load_manifest(project / "sweep").sweep_id
    # study_name=null: Optuna named the study; the resume finds it by the sweep id it recorded
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    before = optuna.load_study(study_name=name, storage=storage)
    states = collections.Counter(t.state.name for t in before.trials)
    assert states["RUNNING"] >= 1 and states["COMPLETE"] >= 1, states

    resumed = subprocess.run(command(entry, storage, resume=str(project / "sweep")), cwd=project, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    text = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, text[-4000:]
    assert f"Resuming sweep {sweep_id}" in text and "optuna_async resume:" in text
    print(f"killed after {killed_at} CreateRuns, study {dict(states)}; "
          + "; ".join(line for line in text.splitlines() if "esum" in line))  # fmt: skip

    study = optuna.load_study(study_name=name, storage=storage)
    ours = [t for t in study.trials if t.user_attrs.get("hydra-flyte-sweep") == sweep_id]
    counted = [t for t in ours if "hydra-flyte-resume" not in t.user_attrs]
    assert [t.state.name for t in counted] == ["COMPLETE"] * N_TRIALS, "n_trials told, none left open"
    assert all(t.state.name == "FAIL" for t in ours if t not in counted), "asked, never submitted: told FAIL"
    # (a kill inside the one storage write after ask() can leave a trial naming no sweep: left RUNNING)
    assert len(study.trials) - len(ours) <= 1
    # No trial's run was submitted twice: one CreateRun per job, one job per trial.
    per_job: dict[int, list[str]] = collections.defaultdict(list)
    for created in cp.requests.created_runs():
        assert created.labels.get("hydra-flyte-sweep") == sweep_id
        per_job[int(created.labels["hydra-flyte-job"])].append(created.name)
    assert {job: len(names) for job, names in per_job.items()} == {job: 1 for job in range(N_TRIALS)}
    assert creates(cp) == N_TRIALS
    assert sorted(t.user_attrs["hydra-flyte-job"] for t in counted) == list(range(N_TRIALS))
    # Told values are the runs' outputs; the best in optimization_results.yaml is the best run's.
    manifest = load_manifest(project / "sweep")
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED"] * N_TRIALS
    values = {r.job: float(r.value) for r in manifest.records()}
    assert {t.user_attrs["hydra-flyte-job"]: t.value for t in counted} == pytest.approx(values)
    best = yaml.safe_load((project / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(values.values()))

    again = subprocess.run(command(entry, storage, resume=sweep_id), cwd=project, env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert creates(cp) == N_TRIALS, "a finished sweep resumed again submits nothing"
    assert f"{N_TRIALS} trials finished earlier (kept)" in again.stderr


def test_resume_without_storage_names_the_setting(cp4: ControlPlane, tmp_path: Path) -> None:
    from conftest import init_flyte_for

    cp4.reset()
    with restored_flyte_init():
        init_flyte_for(cp4)
        with pytest.raises(ConfigurationError, match=r"hydra\.sweeper\.storage is not set"):
            hydra_sweep(objective, config_path=str(HERE / "conf"), config_name="training", resume=tmp_path,
                        overrides=["hydra/sweeper=optuna_async", "optimizer.lr=interval(0.1,1.0)"])  # fmt: skip
    assert creates(cp4) == 0


def test_a_trial_whose_run_never_reached_the_control_plane_is_submitted_on_resume_under_its_name(
    cp4: ControlPlane, project: Path
) -> None:
    """SIGKILL while the control plane refuses the refill's CreateRun: the resume submits that job, asks nothing anew.

    Every CreateRun after the first N_JOBS answers UNAVAILABLE, so the trial asked when the first
    run finished has a job in the manifest and no run anywhere (the client keeps retrying). The
    sweep is killed then; the resume must find no run under the job's name, submit it under that
    name with the trial's own parameters, and tell the trial its value.
    """
    cp = cp4
    cp.reset()
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    storage = f"sqlite:///{project / 'study.db'}"
    cp.faults.fail_create_run(N_JOBS + 1, times=10_000)
    proc = subprocess.Popen(command("sdk", storage), cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while creates(cp) < N_JOBS + 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the refill's CreateRun refused at least once: the client is retrying it
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    assert len(cp.requests.created_runs()) == N_JOBS, out[-3000:]
    cp.faults.clear()
    manifest = load_manifest(project / "sweep")
    created = {r.name for r in cp.requests.created_runs()}
    never_received = [r for r in manifest.records() if r.run_name not in created]
    assert len(never_received) >= 1, [(r.job, r.phase) for r in manifest.records()]
    planned = {r.job: r.run_name for r in never_received}
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    before_resume = optuna.load_study(
        study_name=name, storage=storage
    ).trials  # read now: .trials reads storage
    told = [t for t in before_resume if t.state.name == "COMPLETE" and "hydra-flyte-job" in t.user_attrs]
    open_before = {
        t.user_attrs["hydra-flyte-job"]: t.params
        for t in before_resume
        if t.state.name == "RUNNING" and "hydra-flyte-job" in t.user_attrs
    }
    assert set(planned) <= set(open_before), (planned, open_before)
    # The kill can also fall between telling a trial and saving its job's outcome: the manifest is then
    # behind the study. Make it so for every finished job (the kill leaves it so at random).
    done_before = sorted({r.job for r in manifest.records() if r.phase == "SUCCEEDED"})
    assert done_before, [(r.job, r.phase) for r in manifest.records()]
    for job in done_before:
        manifest.jobs[job].phase, manifest.jobs[job].value = "SUBMITTED", None
    manifest.save()

    resumed = subprocess.run(command("sdk", storage, resume=str(project / "sweep")), cwd=project, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    text = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, text[-4000:]
    assert f"{len(told)} trials finished earlier (kept)" in text
    assert f"{len(told)} finished runs recorded from the control plane" in text, "every one behind the study"
    runs = cp.requests.created_runs()
    per_job = collections.Counter(int(r.labels["hydra-flyte-job"]) for r in runs)
    assert per_job == {job: 1 for job in range(N_TRIALS)}, "one run per job, none submitted twice"
    names = {int(r.labels["hydra-flyte-job"]): r.name for r in runs}
    for job, run_name in planned.items():
        assert names[job] == run_name, "submitted under the name planned before the kill"
    study = optuna.load_study(study_name=name, storage=storage)
    by_job = {t.user_attrs["hydra-flyte-job"]: t for t in study.trials if "hydra-flyte-job" in t.user_attrs}
    for job in planned:
        assert by_job[job].state.name == "COMPLETE" and by_job[job].params == open_before[job]
        assert "hydra-flyte-resume" not in by_job[job].user_attrs, "the planned trial was not asked anew"
    counted = [
        t
        for t in study.trials
        if "hydra-flyte-resume" not in t.user_attrs and "hydra-flyte-job" in t.user_attrs
    ]
    assert sorted(t.user_attrs["hydra-flyte-job"] for t in counted) == list(range(N_TRIALS))
    records = load_manifest(project / "sweep").records()
    assert [(r.job, r.phase) for r in records] == [(job, "SUCCEEDED") for job in range(N_TRIALS)]
    assert all(r.value is not None for r in records), [(r.job, r.phase, r.value) for r in records]
    values = {r.job: float(r.value) for r in records}
    assert {job: by_job[job].value for job in planned} == pytest.approx({job: values[job] for job in planned})
