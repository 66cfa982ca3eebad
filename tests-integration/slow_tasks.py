"""A Hydra task that takes a while, for the tests that cut the control plane off while a sweep waits."""

from __future__ import annotations

import asyncio

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="hydra_slow", image="example.com/hydra-it:latest")


@env.task
async def slow_objective(cfg: DictConfig, seconds: float = 0.0) -> float:
    """Sleep `seconds`, then return lr * depth * scale."""
    await asyncio.sleep(seconds)
    return float(cfg.optimizer.lr) * float(cfg.model.depth) * float(cfg.scale)
