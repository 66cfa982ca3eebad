"""Small Flyte tasks the unit tests run in local mode (real runs through Flyte's local runner)."""

from __future__ import annotations

import json

import flyte
from omegaconf import DictConfig, OmegaConf

env = flyte.TaskEnvironment(name="unit", image="example.com/hydra-flyte-unit:latest")


@env.task
async def echo_config(cfg: DictConfig, note: str = "") -> str:
    """Return the composed config (resolved) as JSON, so a test can assert on every key."""
    return json.dumps({"cfg": OmegaConf.to_container(cfg, resolve=True), "note": note}, sort_keys=True)


@env.task
async def objective(cfg: DictConfig, scale: float = 1.0) -> float:
    """A number that depends on the config, for sweeps and sweepers."""
    return float(cfg.optimizer.lr) * float(cfg.model.depth) * scale


@env.task
async def with_config_param(config: DictConfig) -> float:
    """A task whose DictConfig parameter is called `config`."""
    return float(config.optimizer.lr)


@env.task
async def optional_config(settings: DictConfig | None, dataset: str) -> str:
    """A task whose config parameter is Optional and named `settings`."""
    return f"{dataset}:{settings.optimizer.name if settings else None}"


@env.task
async def two_outputs(cfg: DictConfig) -> tuple[str, float]:
    """Two outputs: RunResult.value is a tuple, iteration yields both."""
    return str(cfg.model.name), float(cfg.optimizer.lr)


@env.task
async def fails_when_sgd(cfg: DictConfig) -> float:
    """Fails for optimizer=sgd with a recognisable message; succeeds otherwise."""
    if cfg.optimizer.name == "sgd":
        raise ValueError("sgd diverged at step 3")
    return float(cfg.optimizer.lr)


@env.task
async def no_config(dataset: str) -> str:
    """A task without a DictConfig parameter: hydra_flyte must refuse it."""
    return dataset


@env.task
async def two_configs(a: DictConfig, b: DictConfig) -> str:
    """Two DictConfig parameters: ambiguous."""
    return "never"
