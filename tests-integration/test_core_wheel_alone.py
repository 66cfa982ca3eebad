"""hydra-flyte-core, built as a wheel and installed alone into a clean venv, runs sweeps and Optuna."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from wheels import build_wheel, clean_venv, pip_install, run

HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import importlib.util, json
    from hydra_flyte import hydra_run, hydra_sweep, RunResult
    from hydra_tasks import objective

    assert importlib.util.find_spec("hydra_plugins.hydra_flyte_launcher") is None, "launcher must not be installed"
    single = hydra_run(objective, config_path="conf", config_name="training", overrides=["optimizer.lr=0.5"], mode="local")
    grid = hydra_sweep(objective, config_path="conf", config_name="training",
                       overrides=["model=small,large", "optimizer.lr=1,2"], mode="local")
    optuna = hydra_sweep(objective, config_path="conf", config_name="training",
                         overrides=["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(0.1,1)"],
                         mode="local")
    print(json.dumps({"single": float(single), "grid": [float(r) for r in grid], "optuna": [float(r) for r in optuna]}))
    """
)


@pytest.mark.slow
def test_core_wheel_alone_runs_sweeps_and_a_custom_sweeper(tmp_path: Path) -> None:
    wheel = build_wheel("core", tmp_path)
    python = clean_venv(tmp_path / "venv")
    pip_install(python, str(wheel), "hydra-optuna-sweeper>=1.2,<1.4")
    project = tmp_path / "project"
    shutil.copytree(HERE / "conf", project / "conf")
    shutil.copy(HERE / "hydra_tasks.py", project / "hydra_tasks.py")
    (project / "probe.py").write_text(SCRIPT)
    result = run(python, "probe.py", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["single"] == pytest.approx(1.0)
    assert figures["grid"] == pytest.approx([2.0, 4.0, 10.0, 20.0])
    assert len(figures["optuna"]) == 2
