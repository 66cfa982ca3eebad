"""Tasks the integration suite deploys to the loopback control plane and then runs by reference
(`flyte.remote.Task.get(name, auto_version="latest")`), as a user runs a task deployed by others."""

from __future__ import annotations

import flyte
import flyte.remote
from omegaconf import DictConfig

from hydra_flyte import apply_task_env

env = flyte.TaskEnvironment(name="hydra_ref", image="example.com/hydra-it:latest")


@env.task
async def objective(cfg: DictConfig, offset: float = 0.0) -> float:
    """lr * depth * scale + offset, as hydra_tasks.objective (its DictConfig comes over the wire)."""
    return float(cfg.optimizer.lr) * float(cfg.model.depth) * float(cfg.scale) + offset


@env.task
async def train_model(lr: float, depth: int) -> float:
    """A child task, called through a reference with its task_env applied."""
    return lr * depth


@env.task
async def pipeline(cfg: DictConfig) -> float:
    """Calls the deployed train_model by reference, with cfg.task_env.train_model applied."""
    reference = flyte.remote.Task.get("hydra_ref.train_model", auto_version="latest")
    train = apply_task_env(reference, cfg)
    return await train(lr=float(cfg.optimizer.lr), depth=int(cfg.model.depth))
