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


@env.task
async def timed_objective(cfg: DictConfig) -> float:
    """The optuna_async workload: sleeps 1 to 6 s (times cfg.sleep_scale, if set) by its parameter u (in [0, 1]);
    returns (u - 0.7)^2 + (v - 0.2)^2."""
    import asyncio

    u, v = float(cfg.u), float(cfg.v)
    await asyncio.sleep(sleep_seconds(u) * float(cfg.get("sleep_scale", 1.0)))
    return (u - 0.7) ** 2 + (v - 0.2) ** 2


def sleep_seconds(u: float) -> float:
    return 1.0 + 5.0 * u
