"""The benchmark's task: a tiny objective that reads a few config values and returns a float."""

from __future__ import annotations

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="hydra_flyte_bench", image="example.com/hydra-flyte-bench:latest")


@env.task
def objective(cfg: DictConfig) -> float:
    """x * model.scale + optimizer.lr: cheap, deterministic, and it touches both config groups."""
    return float(cfg.x) * float(cfg.model.scale) + float(cfg.optimizer.lr)


def expected(x: int, scale: float = 1.0, lr: float = 0.01) -> float:
    """What `objective` returns for job x with the default groups (model=small, optimizer=sgd)."""
    return float(x) * scale + lr
