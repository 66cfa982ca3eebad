"""Detached `hydra/sweeper=optuna_async` sweeps: Optuna's ask-and-tell loop in one driver run, each trial a child action.

Against the loopback control plane, with every child action executed for real: the submitting
command returns once the driver run is created; the control plane holds one run whose children
are the trials (groups job-0..job-<n-1>), at most `n_jobs` running at once; `flyte hydra status`
reads the driver's end and writes optimization_results.yaml, whose best value is the best child's
real output; the report draws Optuna's plots; with `--wait` and a storage, the study in the
storage holds every trial.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from detached_support import SMALL, children, control_plane_with_children, copy_project, flyte
from flyte_loopback import ControlPlane
from flyte_loopback.runs import SUCCEEDED, primitive_values


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from control_plane_with_children(tmp_path_factory, control_plane, "control-plane-detached-optuna")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, "optuna_tasks.py")


def optuna_sweep(*settings: str, sweep_dir: str) -> list[str]:
    hydra = ["hydra/sweeper=optuna_async", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.sampler.seed=11",
             *settings]  # fmt: skip
    return [
        *SMALL, "--multirun", "--detach",
        *(arg for item in hydra for arg in ("--hydra-override", item)),
        "optuna_tasks.py", "timed_objective",
        "--cfg", "optimizer.lr=interval(0.01,1.0)", "--cfg", "model=choice(small,large)", "--cfg", "+sleep=0.2",
    ]  # fmt: skip


def value_of(action: object) -> float:
    """The value the child's task really returned (its outputs on the control plane)."""
    outputs = action.outputs()  # type: ignore[attr-defined]
    assert outputs is not None, f"child {action.name} wrote no outputs"  # type: ignore[attr-defined]
    (value,) = primitive_values(outputs).values()
    return value


def test_a_detached_optuna_sweep_runs_its_20_trials_as_children_of_one_run_4_at_a_time(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    result = flyte(cp, project, "hydra", "run",
                   *optuna_sweep("hydra.sweeper.n_trials=20", "hydra.sweeper.n_jobs=4", sweep_dir="opt"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (created,) = cp.requests.created_runs()  # one run: the driver; no run per trial
    driver = created.name
    sweep = project / "opt"
    manifest = json.loads((sweep / "flyte-sweep.json").read_text())
    assert manifest["driver"]["run_name"] == driver and manifest["driver"]["kind"] == "optuna"
    assert manifest["driver"]["max_concurrency"] == 4 and len(manifest["jobs"]) == 20
    assert not (sweep / "optimization_results.yaml").exists()  # written when the driver's end is read

    cp.wait_for_phase(driver, ["SUCCEEDED"], timeout=240)
    assert [r.name for r in cp.requests.created_runs()] == [driver]
    kids = children(cp, driver)
    assert len(kids) == 20 and sorted(a.group for a in kids) == sorted(f"job-{n}" for n in range(20))
    assert all(a.phase == SUCCEEDED for a in kids)
    spans = sorted((a.started_at, a.ended_at) for a in kids)
    peak = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert peak <= 4, peak

    status = flyte(cp, project, "-of", "json", "hydra", "status", "opt")
    assert status.returncode == 0, status.stderr
    jobs = json.loads(status.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED"] * 20
    truth = {int(a.group.split("-")[1]): value_of(a) for a in kids}
    for job in jobs:  # each trial's value is its child's real output, its overrides the trial's params
        assert job["value"] == pytest.approx(truth[job["job"]])
        params = dict(o.split("=", 1) for o in job["overrides"])
        assert set(params) == {"optimizer.lr", "model", "+sleep"}
        depth = {"small": 2, "large": 10}[params["model"]]
        assert job["value"] == pytest.approx(float(params["optimizer.lr"]) * depth + 0.2)
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(truth.values()))
    best_job = min(truth, key=truth.get)
    best_params = dict(o.split("=", 1) for o in jobs[best_job]["overrides"])
    assert best["best_params"]["model"] == best_params["model"]
    assert best["best_params"]["optimizer.lr"] == pytest.approx(float(best_params["optimizer.lr"]))

    report = flyte(cp, project, "hydra", "report", "opt")
    assert report.returncode == 0, report.stderr
    text = (sweep / "flyte-sweep-report.html").read_text()
    assert "Optimisation history (Optuna)" in text and "Parameter importances (Optuna" in text


def test_a_detached_optuna_sweep_waited_on_adds_its_trials_to_the_storage(
    cp: ControlPlane, project: Path
) -> None:
    cp.reset()
    storage = f"sqlite:///{project / 'study.db'}"
    result = flyte(cp, project, "-of", "json", "hydra", "run", "--wait",
                   *optuna_sweep("hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3", f"hydra.sweeper.storage={storage}",
                                 "hydra.sweeper.study_name=detached", sweep_dir="waited"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (created,) = cp.requests.created_runs()
    jobs = json.loads(result.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED"] * 6
    study = optuna.load_study(study_name="detached", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert sorted(t.value for t in study.trials) == pytest.approx(sorted(j["value"] for j in jobs))
    best = yaml.safe_load((project / "waited" / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(study.best_value)
    # Read again by status: nothing is added twice.
    again = flyte(cp, project, "hydra", "status", "waited")
    assert again.returncode == 0, again.stderr
    assert len(optuna.load_study(study_name="detached", storage=storage).trials) == 6
