"""End to end: the installed `flyte` executable runs the walkthrough example (examples/) locally."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from cli_helpers import summary_rows

PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLES = PACKAGE.parents[1] / "examples"
FLYTE = Path(sys.executable).with_name("flyte")
BASE = ("hydra", "run", "--local", "--config-path", "conf", "--config-name", "training")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed (editable, if it is not yet) and a scratch copy of examples/."""
    if not any(ep.name == "hydra" for ep in entry_points(group="flyte.plugins.cli.commands")):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "-e", str(PACKAGE)],
            check=True,
            capture_output=True,
        )
    target = tmp_path_factory.mktemp("e2e") / "examples"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("__pycache__", "outputs", "multirun"))
    return target


def flyte(example: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "HOME": str(example.parent)}
    for var in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "FLYTE_API_KEY"):
        env.pop(var, None)
    return subprocess.run(
        [str(FLYTE), *args], cwd=example, env=env, capture_output=True, text=True, timeout=300
    )


def test_single_run_prints_its_value(example: Path) -> None:
    out = flyte(
        example,
        "-of",
        "json",
        *BASE,
        "train.py",
        "pipeline",
        "--dataset",
        "digits",
        "--cfg",
        "training.epochs=2",
    )
    assert out.returncode == 0, out.stderr
    (job,) = json.loads(out.stdout)["jobs"]  # the whole of stdout is the JSON document
    assert job["phase"] == "SUCCEEDED" and 0.0 < job["value"] < 5.0


def test_grid_sweep_prints_one_row_per_job(example: Path) -> None:
    out = flyte(
        example,
        *BASE,
        "--multirun",
        "train.py",
        "pipeline",
        "--dataset",
        "digits",
        "--cfg",
        "optimizer.lr=0.001,0.01",
        "--cfg",
        "training.epochs=2",
        "--cfg",
        "model=resnet,vit",
    )
    assert out.returncode == 0, out.stderr
    rows = summary_rows(out.stdout)
    assert [int(r["job"]) for r in rows] == [0, 1, 2, 3]
    assert all(0.0 < float(r["value / error"]) < 5.0 for r in rows)
    for row in rows:  # each value printed once, in the summary
        assert out.stdout.count(row["value / error"]) == 1, row
    # and no line of hydra-flyte's repeats them (the task's own log lines print its metrics)
    assert "RunResult(" not in out.stderr and "finished:" not in out.stderr


def test_optuna_sweep(example: Path) -> None:
    out = flyte(
        example,
        *BASE,
        "--multirun",
        "train.py",
        "pipeline",
        "--dataset",
        "digits",
        "--hydra-override",
        "hydra/sweeper=optuna",
        "--hydra-override",
        "hydra.sweeper.n_trials=3",
        "--hydra-override",
        "hydra.sweeper.n_jobs=1",
        "--cfg",
        "optimizer.lr=interval(1e-3,1e-1)",
        "--cfg",
        "training.epochs=2",
    )
    assert out.returncode == 0, out.stderr
    rows = summary_rows(out.stdout)
    assert len(rows) == 3
    assert all(0.0 < float(r["value / error"]) < 5.0 for r in rows)
    assert "the sweeper minimizes" in out.stdout  # the best job marked in Optuna's direction
    assert "Best value" in out.stderr  # Optuna's own log line


def test_task_whose_parameter_is_config(example: Path) -> None:
    out = flyte(
        example,
        *BASE,
        "train.py",
        "pipeline_with_config",
        "--dataset",
        "digits",
        "--config",
        "optimizer=sgd",
        "--config",
        "optimizer.lr=0.05",
        "--config",
        "training.epochs=2",
    )
    assert out.returncode == 0, out.stderr
    (row,) = summary_rows(out.stdout)
    assert 0.0 < float(row["value / error"]) < 5.0
