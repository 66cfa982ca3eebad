"""Small Flyte tasks taking a DictConfig, for the integration suite's runs (local and remote)."""

from __future__ import annotations

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="hydra_it", image="example.com/hydra-it:latest")


@env.task
async def objective(cfg: DictConfig, offset: float = 0.0) -> float:
    """A number that depends on the config: lr * depth * scale + offset."""
    return float(cfg.optimizer.lr) * float(cfg.model.depth) * float(cfg.scale) + offset


@env.task
async def fails_for_sgd(cfg: DictConfig) -> float:
    """Fails with a recognisable message when optimizer=sgd."""
    if cfg.optimizer.name == "sgd":
        raise RuntimeError(f"loss exploded with lr={cfg.optimizer.lr}")
    return float(cfg.optimizer.lr)
