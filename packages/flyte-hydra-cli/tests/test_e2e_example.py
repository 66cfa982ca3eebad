"""End to end: the installed `flyte` executable runs the walkthrough example (examples/) locally."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
EXAMPLES = PACKAGE.parents[1] / "examples"
FLYTE = Path(sys.executable).with_name("flyte")
JOB_LINE = re.compile(r"^job (\d+)(?: \[(.*)\])?: (.*)$", re.MULTILINE)
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
    out = flyte(example, *BASE, "train.py", "pipeline", "--dataset", "digits", "--cfg", "training.epochs=2")
    assert out.returncode == 0, out.stderr
    loss = float(out.stdout.strip().splitlines()[-1])
    assert 0.0 < loss < 5.0


def test_grid_sweep_prints_one_line_per_job(example: Path) -> None:
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
    jobs = JOB_LINE.findall(out.stdout)
    assert [int(n) for n, _, _ in jobs] == [0, 1, 2, 3]
    assert all(0.0 < float(value) < 5.0 for _, _, value in jobs)


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
    jobs = JOB_LINE.findall(out.stdout)
    assert len(jobs) == 3
    assert all(0.0 < float(value) < 5.0 for _, _, value in jobs)
    assert "Best value" in out.stdout + out.stderr


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
    assert 0.0 < float(out.stdout.strip().splitlines()[-1]) < 5.0
