"""An objective whose run time is part of its parameters, for the optuna_async sweeper's remote tests."""

from __future__ import annotations

import asyncio
from typing import Any

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="optuna_it", image="example.com/optuna-it:latest")


@env.task
async def timed_objective(cfg: DictConfig) -> float:
    """Sleeps `cfg.sleep` seconds, then returns lr * depth + sleep (fails when cfg.fail is set)."""
    await asyncio.sleep(float(cfg.sleep))
    if cfg.get("fail"):
        raise RuntimeError(f"trial asked to fail (lr={cfg.optimizer.lr})")
    return float(cfg.optimizer.lr) * float(cfg.model.depth) + float(cfg.sleep)


# Sleep seconds by trial number: trial 0 is slow, the rest are quick, so trials finish out of order.
STAGGERED = [4.0, 0.2, 0.4, 0.2, 0.3, 0.2, 0.4, 0.2]


def staggered_sleep(cfg: Any, trial: Any) -> None:
    """custom_search_space: a sleep fixed by the trial's number (a one-point range Optuna records as a param)."""
    seconds = STAGGERED[trial.number % len(STAGGERED)]
    trial.suggest_float("+sleep", seconds, seconds)
