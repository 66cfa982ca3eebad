"""Hydra sweeper plugin `hydra/sweeper=optuna_async`: Optuna trials kept in flight, no batch barrier.

Hydra imports this module on every app start (plugin discovery), so it holds only the config
dataclasses and their ConfigStore entries, and names the sweeper class (importing it here is how
Hydra's scan finds and registers it). Optuna is imported only when a sweep runs, by
hydra_flyte.optuna.sweeper.

Settings are those of `hydra/sweeper=optuna` (hydra-optuna-sweeper); see the package README.
The sampler options live in the shared group `hydra/sweeper/sampler`: where hydra-optuna-sweeper
is installed too, its own entries for the names it defines are kept (they fit the Optuna it
pins, and its sweeper keeps working), and this module adds only the names it lacks.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional  # noqa: UP035 - OmegaConf needs typing generics on 3.10

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from hydra_plugins.hydra_flyte_optuna_async._sweeper import OptunaAsyncSweeper

__all__ = ["OptunaAsyncSweeper", "OptunaAsyncSweeperConf"]

SWEEPER_GROUP = "hydra/sweeper"
SWEEPER_NAME = "optuna_async"
SAMPLER_GROUP = "hydra/sweeper/sampler"
PROVIDER = "hydra-flyte-core"
# The sampler names hydra-optuna-sweeper stores in the same group.
STOCK_SAMPLER_NAMES = ("tpe", "random", "cmaes", "nsgaii", "motpe", "grid")

# In the sampler nodes below, None means "Optuna's own default": only the fields you set reach
# the sampler, so one node fits every Optuna from 2.10 to 5.x. A field your Optuna does not know
# fails with a message naming it.


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None  # noqa: UP045
    consider_prior: Optional[bool] = None  # noqa: UP045
    prior_weight: Optional[float] = None  # noqa: UP045
    consider_magic_clip: Optional[bool] = None  # noqa: UP045
    consider_endpoints: Optional[bool] = None  # noqa: UP045
    n_startup_trials: Optional[int] = None  # noqa: UP045
    n_ei_candidates: Optional[int] = None  # noqa: UP045
    multivariate: Optional[bool] = None  # noqa: UP045
    group: Optional[bool] = None  # noqa: UP045
    warn_independent_sampling: Optional[bool] = None  # noqa: UP045
    # Pending trials count as if they had the worst value, so parallel trials spread out.
    constant_liar: Optional[bool] = None  # noqa: UP045


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None  # noqa: UP045


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None  # noqa: UP045
    x0: Optional[Dict[str, Any]] = None  # noqa: UP006, UP045
    sigma0: Optional[float] = None  # noqa: UP045
    n_startup_trials: Optional[int] = None  # noqa: UP045
    independent_sampler: Optional[Any] = None  # noqa: UP045
    warn_independent_sampling: Optional[bool] = None  # noqa: UP045
    consider_pruned_trials: Optional[bool] = None  # noqa: UP045
    restart_strategy: Optional[str] = None  # noqa: UP045
    popsize: Optional[int] = None  # noqa: UP045
    inc_popsize: Optional[int] = None  # noqa: UP045
    use_separable_cma: Optional[bool] = None  # noqa: UP045
    with_margin: Optional[bool] = None  # noqa: UP045
    lr_adapt: Optional[bool] = None  # noqa: UP045


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None  # noqa: UP045
    population_size: Optional[int] = None  # noqa: UP045
    mutation_prob: Optional[float] = None  # noqa: UP045
    crossover_prob: Optional[float] = None  # noqa: UP045
    swapping_prob: Optional[float] = None  # noqa: UP045


@dataclass
class NSGAIIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIIISampler"
    seed: Optional[int] = None  # noqa: UP045
    population_size: Optional[int] = None  # noqa: UP045
    mutation_prob: Optional[float] = None  # noqa: UP045
    crossover_prob: Optional[float] = None  # noqa: UP045
    swapping_prob: Optional[float] = None  # noqa: UP045
    dividing_parameter: Optional[int] = None  # noqa: UP045


@dataclass
class MOTPESamplerConf:
    _target_: str = "optuna.samplers.MOTPESampler"
    seed: Optional[int] = None  # noqa: UP045
    consider_prior: Optional[bool] = None  # noqa: UP045
    prior_weight: Optional[float] = None  # noqa: UP045
    consider_magic_clip: Optional[bool] = None  # noqa: UP045
    consider_endpoints: Optional[bool] = None  # noqa: UP045
    n_startup_trials: Optional[int] = None  # noqa: UP045
    n_ehvi_candidates: Optional[int] = None  # noqa: UP045


@dataclass
class GridSamplerConf:
    # The grid is built from the search space when the sweep starts (discrete dimensions only).
    _target_: str = "optuna.samplers.GridSampler"
    seed: Optional[int] = None  # noqa: UP045


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None  # noqa: UP045
    qmc_type: Optional[str] = None  # noqa: UP045
    scramble: Optional[bool] = None  # noqa: UP045
    warn_independent_sampling: Optional[bool] = None  # noqa: UP045


@dataclass
class GPSamplerConf:
    _target_: str = "optuna.samplers.GPSampler"
    seed: Optional[int] = None  # noqa: UP045
    n_startup_trials: Optional[int] = None  # noqa: UP045
    deterministic_objective: Optional[bool] = None  # noqa: UP045
    warn_independent_sampling: Optional[bool] = None  # noqa: UP045


@dataclass
class BruteForceSamplerConf:
    _target_: str = "optuna.samplers.BruteForceSampler"
    seed: Optional[int] = None  # noqa: UP045


SAMPLERS: Dict[str, type] = {  # noqa: UP006
    "tpe": TPESamplerConf,
    "random": RandomSamplerConf,
    "cmaes": CmaEsSamplerConf,
    "nsgaii": NSGAIISamplerConf,
    "nsgaiii": NSGAIIISamplerConf,
    "motpe": MOTPESamplerConf,
    "grid": GridSamplerConf,
    "qmc": QMCSamplerConf,
    "gp": GPSamplerConf,
    "bruteforce": BruteForceSamplerConf,
}


@dataclass
class OptunaAsyncSweeperConf:
    """Fields of `hydra.sweeper` when `hydra/sweeper=optuna_async` is selected (those of `optuna`)."""

    _target_: str = "hydra_plugins.hydra_flyte_optuna_async._sweeper.OptunaAsyncSweeper"
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])  # noqa: UP006
    # The sampler and its nested settings reach the sweeper as config: it builds them itself.
    _recursive_: bool = False
    # Sampling algorithm: hydra/sweeper/sampler=tpe|random|cmaes|nsgaii|grid|qmc|gp|... (as your Optuna offers).
    sampler: Any = MISSING  # MISSING, not None: the defaults list fills it
    # "minimize" or "maximize", or a list of them for several objectives.
    direction: Any = "minimize"
    # Where the study lives, e.g. sqlite:///study.db (null: in memory). Needed for --resume.
    storage: Optional[Any] = None  # noqa: UP045
    # The study's name (null: Optuna picks one). An existing study of this name is continued.
    study_name: Optional[str] = None  # noqa: UP045
    # Trials to run in all (the study's earlier finished trials count on resume).
    n_trials: int = 20
    # Trials in flight at once: a new one is asked and submitted as soon as one finishes.
    n_jobs: int = 2
    # Largest share of failed trials tolerated, over the trials finished so far.
    max_failure_rate: float = 0.0
    # Deprecated form of the search space (name -> {type, low, high, log, step, choices}).
    search_space: Optional[Dict[str, Any]] = None  # noqa: UP006, UP045
    # The search space, in override grammar: interval(...), choice(...), range(...), tag(log, ...).
    params: Optional[Dict[str, str]] = None  # noqa: UP006, UP045
    # Dotted path of a function (cfg: DictConfig, trial: optuna.trial.Trial) -> None that suggests more.
    custom_search_space: Optional[str] = None  # noqa: UP045


def _stock_sweeper_installed() -> bool:
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None
    except (ImportError, ValueError):
        return False


def register_configs() -> None:
    """Store `hydra/sweeper=optuna_async` and the sampler options hydra-optuna-sweeper does not provide."""
    store = ConfigStore.instance()
    store.store(group=SWEEPER_GROUP, name=SWEEPER_NAME, node=OptunaAsyncSweeperConf, provider=PROVIDER)
    skip = set(STOCK_SAMPLER_NAMES) if _stock_sweeper_installed() else set()
    try:
        present = {name.rsplit(".", 1)[0] for name in store.list(SAMPLER_GROUP)}
    except OSError:  # the group does not exist yet
        present = set()
    for name, node in SAMPLERS.items():
        if name not in skip and name not in present:
            store.store(group=SAMPLER_GROUP, name=name, node=node, provider=PROVIDER)


register_configs()
