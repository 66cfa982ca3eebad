"""`hydra/sweeper=optuna_async`: Optuna's ask-and-tell loop with `n_jobs` trials always in flight.

hydra-optuna-sweeper asks `n_jobs` trials, launches them as one batch and waits for the whole
batch before asking again, so every batch waits for its slowest trial. Here each trial is
submitted the moment a slot frees: when a run finishes its value is told to the study (a failed
run is told as failed), and the next trial is asked and submitted at once.

- With FlyteLauncher in remote mode (waiting), trials go through the launcher's JobStream
  (hydra_flyte.engine.job_stream): the same job numbers, directories, `.hydra/` snapshots, run names,
  manifest and progress as any sweep.
- With FlyteLauncher and `detach` (not a dry run), the whole loop runs on the cluster in one driver
  run, each trial a child action (hydra_flyte.optuna.detached, hydra_flyte.optuna.driver).
- With any other launcher, in local mode, in a dry run or with `wait=false`, trials are
  launched one at a time through `launcher.launch` (a dry run plans the first `n_jobs` trials).
- `max_failure_rate` is checked against the trials finished so far: once exceeded, no new trial
  is asked, the trials in flight are waited for and told, and the sweep fails with the first
  failure's error. `fail_fast` aborts the runs in flight at the first failure.
- Resume (`--resume SWEEP`, `hydra.launcher.resume=SWEEP`, `resume=`) needs `storage`: the
  study's finished trials count, its open trials' runs are reattached (hydra_flyte.optuna.resume).
- The study's best parameters and value go to `<sweep dir>/optimization_results.yaml`, as the
  stock sweeper writes them (the Pareto front for several objectives).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra_flyte.errors import ConfigurationError
from hydra_flyte.optuna.space import (
    build_sampler,
    build_search_space,
    directions_of,
    is_grid_sampler,
    require_optuna,
)
from hydra_flyte.optuna.trials import TrialLoop

log = logging.getLogger(__name__)


class OptunaAsyncSweep:
    """The sweeper's state and loop (the Hydra plugin class delegates here once optuna is needed)."""

    def __init__(
        self,
        *,
        sampler: Any = None,
        direction: Any = "minimize",
        storage: Any = None,
        study_name: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 2,
        max_failure_rate: float = 0.0,
        search_space: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        custom_search_space: str | None = None,
    ) -> None:
        self.sampler_node = sampler
        self.directions = directions_of(direction)
        self.storage = storage
        self.study_name = study_name
        self.n_trials = _positive_int("n_trials", n_trials, allow_zero=True)
        self.n_jobs = _positive_int("n_jobs", n_jobs)
        if (
            isinstance(max_failure_rate, bool)
            or not isinstance(max_failure_rate, (int, float))
            or not (0.0 <= float(max_failure_rate) <= 1.0)
        ):
            raise ConfigurationError(
                f"hydra.sweeper.max_failure_rate must be a number from 0.0 to 1.0, got {max_failure_rate!r}."
            )
        self.max_failure_rate = float(max_failure_rate)
        self.search_space_config = search_space
        self.params = params
        self.custom_search_space = custom_search_space
        self.job_idx = 0
        self.config: Any = None
        self.hydra_context: Any = None
        self.launcher: Any = None

    # -- Hydra's Sweeper protocol ----------------------------------------------------------------
    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra.core.plugins import Plugins

        self.optuna = require_optuna()  # before anything else: the clear error when it is missing
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> None:
        from omegaconf import OmegaConf

        optuna = self.optuna
        space = build_search_space(self.params, arguments, self.search_space_config)
        extender = self._custom_search_space()
        sampler = build_sampler(self.sampler_node, space, optuna)
        n_trials = self.n_trials
        if sampler is not None and is_grid_sampler(sampler, optuna):
            n_trials = min(n_trials, space.grid_size())
            log.info(f"Grid sampler: {n_trials} trials (grid of {space.grid_size()})")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))  # a resumed sweep's: the manifest's directory
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        dry_run = bool(self._launcher_setting("dry_run", False))
        # A FlyteLauncher whose jobs go remote and are waited on streams them (any other launcher cannot).
        streaming = callable(getattr(self.launcher, "can_stream", None)) and self.launcher.can_stream()
        resuming = self._launcher_setting("resume", None) is not None
        if self._launcher_setting("detach", False) and not dry_run:
            # The whole loop runs in one driver run on the cluster (hydra_flyte.optuna.detached).
            from hydra_flyte.optuna.detached import run_detached

            log.info(
                f"optuna_async detached: {n_trials} trials, {self.n_jobs} in flight at a time, in one driver run"
            )
            run_detached(self, space=space, extender=extender, n_trials=n_trials, sweep_dir=sweep_dir,
                         arguments=list(arguments))  # fmt: skip
            return
        if resuming and not streaming:
            raise ConfigurationError(
                "hydra/sweeper=optuna_async resumes remote sweeps that wait for their runs: drop "
                "hydra.launcher.wait=false, or drop the resume option."
            )
        # A remote sweep's manifest (a resumed one's is loaded already): its id goes on the study and trials.
        manifest = self.launcher.sweep_manifest(sweep_dir) if streaming else None
        storage = None if dry_run else self._storage()
        study_name = self.study_name
        if resuming and study_name is None:
            from hydra_flyte.optuna.resume import find_study_name

            study_name = find_study_name(optuna, storage, manifest.sweep_id, str(self.storage))
        study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            sampler=sampler,
            directions=self.directions,
            load_if_exists=True,
        )
        log.info(f"Study name: {study.study_name}")
        log.info(f"Storage: {self.storage if not dry_run else None}")
        log.info(f"Sampler: {type(study.sampler).__name__}")
        log.info(f"Directions: {self.directions}")
        loop = TrialLoop(self, study, space, extender, n_trials=n_trials,
                         sweep_id=manifest.sweep_id if manifest is not None else None)  # fmt: skip
        if dry_run:
            loop.plan_only()
            return
        if streaming:
            from hydra_flyte.optuna.resume import resume_trials, study_key

            if resuming:
                loop.resumed = resume_trials(
                    optuna, study, manifest, self.launcher.settings(), storage=storage
                )
                loop.count_earlier(loop.resumed.finished, loop.resumed.failures)
                self.job_idx = max(manifest.jobs, default=-1) + 1
            elif self.storage is not None:
                study.set_user_attr(study_key(manifest.sweep_id), str(sweep_dir))
            log.info(f"optuna_async: {n_trials} trials, {self.n_jobs} in flight at a time")
            try:
                loop.run_streaming()
            except KeyboardInterrupt:
                if self.storage is None:
                    print(
                        "  This study had no storage (hydra.sweeper.storage): its trials were in memory, so the "
                        "sweep cannot resume; the reattach command collects the runs it submitted.",
                        file=sys.stderr,
                        flush=True,
                    )
                raise
        else:
            log.info(
                f"optuna_async: {n_trials} trials, one at a time ({type(self.launcher).__name__}"
                f"{' in local mode' if self._launcher_setting('mode', '') == 'local' else ''}: "
                "trials stream only with hydra/launcher=flyte in remote mode)"
            )
            loop.run_one_at_a_time()
        loop.raise_if_failed()
        self._write_results(study, sweep_dir)

    # -- helpers ---------------------------------------------------------------------------------
    def _launcher_setting(self, key: str, default: Any) -> Any:
        settings = getattr(self.launcher, "settings", None)
        if callable(settings):
            return getattr(settings(), key, default)
        return default

    def _storage(self) -> Any:
        from omegaconf import DictConfig

        if isinstance(self.storage, DictConfig) and "_target_" in self.storage:
            from hydra.utils import instantiate

            return instantiate(self.storage)
        return self.storage

    def _custom_search_space(self) -> Any:
        if not self.custom_search_space:
            return None
        from hydra.utils import get_method

        try:
            return get_method(self.custom_search_space)
        except Exception as exc:
            raise ConfigurationError(
                f"hydra.sweeper.custom_search_space={self.custom_search_space!r} does not name a function "
                f"(module.function, taking (cfg, trial)): {exc}"
            ) from exc

    def _write_results(self, study: Any, sweep_dir: Path) -> None:
        from omegaconf import OmegaConf

        complete = [t for t in study.trials if t.state.name == "COMPLETE"]
        if not complete:
            log.warning("No trial completed: optimization_results.yaml not written")
            return
        if len(self.directions) == 1:
            best = study.best_trial
            results: dict[str, Any] = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info(f"Best parameters: {best.params}")
            log.info(f"Best value: {best.value}")
        else:
            front = study.best_trials
            results = {
                "name": "optuna",
                "solutions": [{"params": t.params, "values": t.values} for t in front],
            }
            log.info(f"Number of Pareto solutions: {len(front)}")
            for trial in front:
                log.info(f"    Values: {trial.values}, Params: {trial.params}")
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")


def _positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"hydra.sweeper.{name} must be an integer >= {low}, got {value!r}.")
    return value
