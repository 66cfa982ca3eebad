"""Small Flyte tasks the in-process tests run in local mode."""

from __future__ import annotations

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="launcher_tests", image="example.com/hydra-flyte-launcher-tests:latest")


@env.task
async def score(cfg: DictConfig, offset: float = 0.0) -> float:
    """A number that depends on the config."""
    return float(cfg.x) * 2 + offset


@env.task
async def explode(cfg: DictConfig) -> float:
    """Fails, as a task with a bug does."""
    raise RuntimeError(f"bad x: {cfg.x}")
