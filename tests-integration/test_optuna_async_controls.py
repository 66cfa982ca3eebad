"""`hydra/sweeper=optuna_async` with the sweep controls: dry run, fail_fast, Ctrl-C while trials stream.

Against the session's loopback control plane (2 execution slots), executing tasks for real; the
Ctrl-C tests run the sweep in a subprocess (optuna_driver.py) and send it SIGINT.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from flyte_loopback import ControlPlane
from flyte_loopback.faults import run_named
from optuna_tasks import timed_objective

from hydra_flyte import SweepFailedError, hydra_sweep, load_manifest

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")

pytestmark = pytest.mark.slow


def sweep_overrides(tmp_path: Path, *extra: str) -> list[str]:
    return ["hydra/sweeper=optuna_async", "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3",
            "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=5", "optimizer.lr=interval(0.01,1.0)",
            "+sleep=0.1", f"hydra.sweep.dir={tmp_path / 'sweep'}", *extra]  # fmt: skip


def creates(cp: ControlPlane) -> int:
    return len(cp.requests.of("RunService/CreateRun"))


def test_dry_run_plans_the_first_n_jobs_trials_and_submits_nothing(
    flyte_remote: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    hydra_sweep(timed_objective, config_path=CONF, config_name="training", run_options={"name": "odry"},
                overrides=sweep_overrides(tmp_path, f"hydra.sweeper.storage={storage}"), dry_run=True)  # fmt: skip
    captured = capsys.readouterr()
    assert flyte_remote.requests.all() == []
    assert all(f"odry-{n}" in captured.out for n in range(3)) and "odry-3" not in captured.out
    assert "planned the first 3 of 6 trials" in captured.out + captured.err
    assert not (tmp_path / "study.db").exists(), "a dry run's study is in memory: the storage is left alone"
    assert not (tmp_path / "sweep" / "flyte-sweep.json").exists()


def test_fail_fast_aborts_the_trials_in_flight_and_asks_no_more(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    cp = flyte_remote
    cp.faults.fail_runs(run_named("off-1"), "injected: trial 1 fails")
    cp.faults.hang_runs(lambda target: target.run_name != "off-1")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(SweepFailedError):
        hydra_sweep(timed_objective, config_path=CONF, config_name="training", run_options={"name": "off"},
                    overrides=sweep_overrides(tmp_path, f"hydra.sweeper.storage={storage}",
                                              "hydra.sweeper.study_name=ff", "hydra.sweeper.max_failure_rate=1.0"),
                    fail_fast=True)  # fmt: skip
    assert creates(cp) == 3, "no trial asked after the first failure"
    aborted = {r.request.run_id.name for r in cp.requests.of("RunService/AbortRun")}
    assert aborted == {"off-0", "off-2"}
    assert [cp.runs[f"off-{n}"].phase for n in range(3)] == ["ABORTED", "FAILED", "ABORTED"]
    study = optuna.load_study(study_name="ff", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3, "every trial told, none left RUNNING"
    assert [r.phase for r in load_manifest(tmp_path / "sweep").records()] == ["ABORTED", "FAILED", "ABORTED"]


def test_fail_fast_aborts_a_trial_whose_submission_lands_after_the_failure(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    """A trial still being submitted when fail_fast stops the sweep is aborted once its run exists: left
    alone it would run on (here: for ever) and the sweep would wait for it."""
    cp = flyte_remote
    cp.faults.fail_runs(run_named("ofl-1"), "injected: trial 1 fails")
    cp.faults.hang_runs(lambda target: target.run_name != "ofl-1")
    cp.faults.delay_create_run("ofl-2", 4.0)  # lands well after trial 1 has failed
    with pytest.raises(SweepFailedError):
        hydra_sweep(timed_objective, config_path=CONF, config_name="training", run_options={"name": "ofl"},
                    overrides=sweep_overrides(tmp_path, "hydra.sweeper.max_failure_rate=1.0"),
                    fail_fast=True)  # fmt: skip
    assert creates(cp) == 3
    assert [cp.runs[f"ofl-{n}"].phase for n in range(3)] == ["ABORTED", "FAILED", "ABORTED"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("optuna_tasks.py", "optuna_driver.py"):
        shutil.copy(HERE / name, root / name)
    return root


def interrupt_while_streaming(
    cp: ControlPlane, command: list[str], project: Path, env: dict[str, str]
) -> str:
    proc = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while creates(cp) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # waiting for the first trials now
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode in (1, 130, -signal.SIGINT), out
    return out


def test_ctrl_c_while_trials_stream_prints_the_resume_command_and_resume_finishes(
    flyte_remote: ControlPlane, project: Path
) -> None:
    cp = flyte_remote
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    storage = f"sqlite:///{project / 'study.db'}"
    command = [sys.executable, "optuna_driver.py", "sweep", storage, "6", "2", "hydra.sweeper.study_name=int"]
    out = interrupt_while_streaming(cp, command, project, env)
    manifest = str((project / "sweep" / "flyte-sweep.json").resolve())
    assert "Interrupted" in out and f"Manifest: {manifest}" in out, out[-3000:]
    assert f"Resume with: hydra_sweep(... the same arguments ..., resume={manifest!r})" in out
    submitted = creates(cp)
    assert submitted < 6

    resumed = subprocess.run([*command, f"resume={manifest}"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
    study = optuna.load_study(study_name="int", storage=storage)
    counted = [t for t in study.trials if "hydra-flyte-resume" not in t.user_attrs]
    assert [t.state.name for t in counted] == ["COMPLETE"] * 6
    jobs = [c.labels["hydra-flyte-job"] for c in cp.requests.created_runs()]
    assert sorted(jobs, key=int) == [str(n) for n in range(6)], (
        "one run per trial, the interrupted ones reattached"
    )


def test_ctrl_c_without_storage_says_the_sweep_cannot_resume(
    flyte_remote: ControlPlane, project: Path
) -> None:
    cp = flyte_remote
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    command = [sys.executable, "optuna_driver.py", "sweep", "unused", "6", "2", "hydra.sweeper.storage=null"]
    out = interrupt_while_streaming(cp, command, project, env)
    assert "Resume with:" in out and "no storage (hydra.sweeper.storage)" in out, out[-3000:]
    assert "flyte hydra status" in out
