"""A task that prints recognisable lines, for `flyte hydra run --follow` (test_cli_remote.py)."""

from __future__ import annotations

import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="hydra_cli_logs", image="example.com/hydra-it:latest")


@env.task
async def chatty(cfg: DictConfig) -> float:
    """Prints three numbered lines naming the learning rate, then returns lr * 4."""
    for i in range(1, 4):
        print(f"cli-follow line {i} of 3 (lr={cfg.optimizer.lr})", flush=True)
    return float(cfg.optimizer.lr) * 4
