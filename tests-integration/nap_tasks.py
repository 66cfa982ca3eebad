"""A Hydra task whose duration is in its config, for sweeps where some jobs end at once and others run on."""

from __future__ import annotations

import asyncio

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="hydra_nap", image="example.com/hydra-it:latest")


@env.task
async def nap(cfg: DictConfig) -> float:
    """Sleep `cfg.nap` seconds (none when unset), then return lr * depth * scale."""
    await asyncio.sleep(float(cfg.get("nap", 0)))
    return float(cfg.optimizer.lr) * float(cfg.model.depth) * float(cfg.scale)
