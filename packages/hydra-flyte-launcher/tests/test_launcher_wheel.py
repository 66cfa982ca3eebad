"""The published shape: built wheels installed into a clean venv run the example script.

Checks that the metadata resolves on its own (hydra-flyte-launcher -> hydra-flyte-core -> flyte,
hydra-core, ...) and that nothing relies on the editable checkout. Dependencies come from the
package index (the pip cache makes this quick after the first time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PACKAGES = Path(__file__).resolve().parents[2]


def sh(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_example_runs_from_built_wheels(
    tmp_path: Path, example_project: Path, no_flyte_endpoint: Path
) -> None:
    wheels = tmp_path / "wheels"
    for package in ("hydra-flyte-core", "hydra-flyte-launcher"):
        sh(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            wheels,
            PACKAGES / package,
        )
    core_wheel, launcher_wheel = sorted(wheels.glob("*.whl"))
    assert core_wheel.name.startswith("hydra_flyte_core-0.1.0-")
    assert launcher_wheel.name.startswith("hydra_flyte_launcher-0.1.0-")

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # The launcher and its dependencies, plus what the example's own tasks and sweeps need.
    sh(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        launcher_wheel,
        core_wheel,
        "scikit-learn",
        "hydra-optuna-sweeper==1.3.0",
    )

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"HOME": str(no_flyte_endpoint), "DO_NOT_TRACK": "1"})
    where = sh(
        python,
        "-c",
        "import hydra_flyte, hydra_plugins.hydra_flyte_launcher as p; print(hydra_flyte.__file__, p.__file__)",
        env=env,
    )
    assert str(venv) in where.stdout and str(PACKAGES) not in where.stdout

    single = sh(
        python,
        "train.py",
        "hydra/launcher=flyte",
        "hydra.launcher.mode=local",
        "training.epochs=3",
        cwd=example_project,
        env=env,
    )
    assert re.search(r"finished: RunResult\(value=[0-9.]+\)", single.stdout + single.stderr)

    sweep = sh(
        python,
        "train.py",
        "--multirun",
        "hydra/launcher=flyte",
        "hydra.launcher.mode=local",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=2",
        "optimizer.lr=interval(1e-3,1e-1)",
        "training.epochs=3",
        cwd=example_project,
        env=env,
    )
    assert "Best value: " in sweep.stdout + sweep.stderr

    remote = subprocess.run(
        [python, "train.py", "hydra/launcher=flyte"],
        cwd=example_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert remote.returncode != 0 and "no Flyte endpoint configured:" in remote.stderr
