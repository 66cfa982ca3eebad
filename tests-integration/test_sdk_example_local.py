"""The walkthrough example through hydra_run / hydra_sweep in local mode: real training, real values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hydra_flyte import RunResult, hydra_run, hydra_sweep

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONF = str(EXAMPLES / "conf")
sys.path.insert(0, str(EXAMPLES))

from train import pipeline, pipeline_with_config  # noqa: E402


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_walkthrough_single_run() -> None:
    result = hydra_run(
        pipeline,
        config_path=CONF,
        config_name="training",
        overrides=["optimizer.lr=0.01"],
        dataset="digits",
        mode="local",
    )
    assert isinstance(result, RunResult)
    assert 0.0 < float(result) < 3.0


def test_walkthrough_grid_in_basic_sweeper_order() -> None:
    results = hydra_sweep(
        pipeline,
        config_path=CONF,
        config_name="training",
        overrides=["model=resnet,vit", "optimizer.lr=0.001,0.01,0.1"],
        dataset="digits",
        mode="local",
    )
    assert len(results) == 6
    losses = [float(r) for r in results]
    # The same job alone gives the same value: results are aligned with BasicSweeper's order.
    for index, (model, lr) in [(1, ("resnet", "0.01")), (5, ("vit", "0.1"))]:
        alone = hydra_run(
            pipeline,
            config_path=CONF,
            config_name="training",
            overrides=[f"model={model}", f"optimizer.lr={lr}"],
            dataset="digits",
            mode="local",
        )
        assert float(alone) == pytest.approx(losses[index])
    assert len(set(losses)) == 6, "every job trained a different model"


@pytest.mark.parametrize("sweeper", ["optuna", "optuna_async"])
def test_walkthrough_optuna_sweep_returns_real_objectives(sweeper: str) -> None:
    results = hydra_sweep(
        pipeline,
        config_path=CONF,
        config_name="training",
        overrides=[
            f"hydra/sweeper={sweeper}",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.sampler.seed=3",
            "optimizer.lr=interval(1e-4,1e-1)",
        ],
        dataset="digits",
        mode="local",
    )
    assert len(results) == 6
    assert all(0.0 < float(r) < 5.0 for r in results)


def test_structured_config_only() -> None:
    result = hydra_run(
        pipeline, config_path=None, config_name="structured_training", dataset="digits", mode="local"
    )
    assert 0.0 < float(result) < 3.0


def test_task_whose_parameter_is_named_config() -> None:
    result = hydra_run(
        pipeline_with_config,
        config_path=CONF,
        config_name="training",
        overrides=["optimizer=sgd"],
        dataset="digits",
        mode="local",
    )
    assert 0.0 < float(result) < 3.0
