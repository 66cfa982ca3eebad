"""The built wheel, alone in a clean venv (plus hydra-optuna-sweeper), runs an Optuna sweep.

Opt-in (it builds wheels and installs from the package index, a few minutes):
    FLYTE_HYDRA_CLI_WHEEL_TEST=1 DO_NOT_TRACK=1 pytest packages/flyte-hydra-cli/tests/test_wheel_clean_venv.py
Custom sweepers must work without the hydra-flyte-launcher package, which is not installed here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
CORE = PACKAGE.parent / "hydra-flyte-core"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("FLYTE_HYDRA_CLI_WHEEL_TEST") != "1", reason="set FLYTE_HYDRA_CLI_WHEEL_TEST=1 to run"
    ),
]


def test_optuna_sweep_from_the_wheel_in_a_clean_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(CORE), str(PACKAGE)],
        check=True,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    (cli_wheel,) = wheels.glob("flyte_hydra_cli-*.whl")
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--find-links",
            str(wheels),
            str(cli_wheel),
            "hydra-optuna-sweeper",
        ],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "hydra-flyte-launcher" not in listed

    project = tmp_path / "project"
    shutil.copytree(Path(__file__).parent / "project", project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": os.environ.get("PATH", ""), "DO_NOT_TRACK": "1", "HOME": str(tmp_path)}
    out = subprocess.run(
        [
            str(venv / "bin" / "flyte"), "hydra", "run", "--local", "-m", "--config-path", "conf",
            "--config-name", "main", "fixture_tasks.py", "score",
            "--hydra-override", "hydra/sweeper=optuna", "--hydra-override", "hydra.sweeper.n_trials=3",
            "--cfg", "optimizer.lr=interval(0.1,0.2)",
        ],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"^job \d+( \[.*\])?: [0-9.]+$", out.stdout, re.MULTILINE)) == 3
