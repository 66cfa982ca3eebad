"""Small tasks for the flyte-hydra-cli tests: cheap, import-safe, with every parameter shape we need."""

from __future__ import annotations

from dataclasses import dataclass, field

import flyte
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="fixture")


@dataclass
class StepsConf:
    count: int = 3


@dataclass
class StructuredConf:
    steps: StepsConf = field(default_factory=StepsConf)
    scale: float = 2.0


# Registered at import time: `flyte hydra run` must see it without any @hydra.main.
ConfigStore.instance().store(name="structured", node=StructuredConf)


@env.task
async def score(cfg: DictConfig, offset: float = 0.0) -> float:
    """Objective: the learning rate scaled by the number of epochs, plus an offset."""
    return float(cfg.optimizer.lr) * float(cfg.training.epochs) + offset


@env.task
async def describe(config: DictConfig, label: str) -> str:
    """Its DictConfig parameter is called `config`, so the override flag is --config."""
    return f"{label}:{config.optimizer.name}:{config.optimizer.lr}"


@env.task
async def steps(cfg: DictConfig) -> int:
    """For the ConfigStore-only config."""
    return int(cfg.steps.count * cfg.scale)


@env.task
async def explode(cfg: DictConfig) -> float:
    """Fails when training.epochs is above 10."""
    if cfg.training.epochs > 10:
        raise ValueError(f"too many epochs: {cfg.training.epochs}")
    return float(cfg.training.epochs)


@env.task
async def plain(x: int) -> int:
    """Has no DictConfig parameter."""
    return x + 1
