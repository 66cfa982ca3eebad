"""`hydra/sweeper=optuna_async`: Optuna's ask-and-tell loop with `n_jobs` trials always in flight.

hydra-optuna-sweeper asks `n_jobs` trials, launches them as one batch and waits for the whole
batch before asking again, so every batch waits for its slowest trial. Here each trial is
submitted the moment a slot frees: when a run finishes its value is told to the study (a failed
run is told as failed), and the next trial is asked and submitted at once.

- With FlyteLauncher in remote mode (waiting), trials go through the launcher's JobStream
  (hydra_flyte._job_stream): the same job numbers, directories, `.hydra/` snapshots, run names,
  manifest and progress as any sweep.
- With any other launcher, in local mode, in a dry run or with `wait=false`, trials are
  launched one at a time through `launcher.launch` (a dry run plans the first `n_jobs` trials).
- `max_failure_rate` is checked against the trials finished so far: once exceeded, no new trial
  is asked, the trials in flight are waited for and told, and the sweep fails with the first
  failure's error. `fail_fast` aborts the runs in flight at the first failure.
- The study's best parameters and value go to `<sweep dir>/optimization_results.yaml`, as the
  stock sweeper writes them (the Pareto front for several objectives).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

from ._errors import ConfigurationError
from ._optuna_space import (
    SearchSpace,
    build_sampler,
    build_search_space,
    directions_of,
    is_grid_sampler,
    objective_values,
    require_optuna,
)

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
        if self._launcher_setting("resume", None) is not None:
            raise ConfigurationError(
                "hydra/sweeper=optuna_async does not resume a sweep yet (--resume / hydra.launcher.resume / "
                "resume=): run without it; with the same storage and study_name the study goes on, its "
                "finished trials informing the sampler, in a new sweep directory."
            )
        space = build_search_space(self.params, arguments, self.search_space_config)
        extender = self._custom_search_space()
        sampler = build_sampler(self.sampler_node, space, optuna)
        n_trials = self.n_trials
        if sampler is not None and is_grid_sampler(sampler, optuna):
            n_trials = min(n_trials, space.grid_size())
            log.info(f"Grid sampler: {n_trials} trials (grid of {space.grid_size()})")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        dry_run = bool(self._launcher_setting("dry_run", False))
        study = optuna.create_study(
            study_name=self.study_name,
            storage=None if dry_run else self._storage(),
            sampler=sampler,
            directions=self.directions,
            load_if_exists=True,
        )
        log.info(f"Study name: {study.study_name}")
        log.info(f"Storage: {self.storage if not dry_run else None}")
        log.info(f"Sampler: {type(study.sampler).__name__}")
        log.info(f"Directions: {self.directions}")
        loop = _TrialLoop(self, study, space, extender, n_trials=n_trials)
        if dry_run:
            loop.plan_only()
            return
        from ._job_stream import can_stream

        if can_stream(self.launcher):
            log.info(f"optuna_async: {n_trials} trials, {self.n_jobs} in flight at a time")
            loop.run_streaming()
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


class _TrialLoop:
    """Asks, starts, tells: the bookkeeping of one sweep's trials."""

    def __init__(
        self, sweeper: OptunaAsyncSweep, study: Any, space: SearchSpace, extender: Any, *, n_trials: int
    ):
        self.sweeper = sweeper
        self.study = study
        self.space = space
        self.extender = extender
        self.n_trials = n_trials
        self.asked = 0
        self.told = 0
        self.failures: list[JobReturn] = []
        self.stopped = False  # too many failures (or fail_fast): ask no more

    # -- asking ------------------------------------------------------------------------------
    def ask(self) -> tuple[Any, list[str]]:
        """A new trial and the overrides of its job."""
        trial = self.study.ask()
        self.asked += 1
        try:
            for dimension in self.space.dimensions:
                dimension.suggest(trial)
            for name, value in self.space.fixed:
                trial.set_user_attr(name, value)
            if self.extender is not None:
                self.extender(self.sweeper.config, trial)
            overlap = set(trial.params) & set(trial.user_attrs)
            if overlap:
                raise ConfigurationError(
                    f"parameters both searched and fixed: {sorted(overlap)}: give each either a sweep "
                    "(interval/range/choice) or a single value."
                )
        except BaseException:
            self._tell_failed(trial)
            raise
        params = dict(trial.params)
        params.update(self.space.fixed)
        return trial, [f"{name}={value}" for name, value in params.items()]

    def next_job_num(self) -> int:
        num = self.sweeper.job_idx
        self.sweeper.job_idx += 1
        return num

    # -- telling -----------------------------------------------------------------------------
    def tell(self, trial: Any, ret: JobReturn) -> None:
        """Tell the study how a trial's job ended; a failed job (or a value that is not a number) is FAIL."""
        optuna = self.sweeper.optuna
        try:
            if ret.status is not JobStatus.COMPLETED:
                raise (
                    ret._return_value
                    if isinstance(ret._return_value, BaseException)
                    else RuntimeError("failed")
                )
            values = objective_values(ret._return_value, len(self.sweeper.directions))
        except Exception as exc:
            log.warning(f"Trial {trial.number} failed: {exc}")
            if ret.status is JobStatus.COMPLETED:  # the run succeeded, its value is unusable: the job failed
                ret.status = JobStatus.FAILED
                ret.return_value = exc
            self._tell_failed(trial)
            self.failures.append(ret)
        else:
            self._tell(trial, state=optuna.trial.TrialState.COMPLETE, values=values)
            shown = values[0] if len(values) == 1 else values
            log.info(f"Trial {trial.number} finished: {shown} ({' '.join(ret.overrides or [])})")
        self.told += 1
        if self.too_many_failures():
            if not self.stopped:
                log.error(
                    f"{len(self.failures)} of {self.told} trials failed, above max_failure_rate="
                    f"{self.sweeper.max_failure_rate}: no new trials"
                )
            self.stopped = True

    def _tell_failed(self, trial: Any) -> None:
        self._tell(trial, state=self.sweeper.optuna.trial.TrialState.FAIL, values=None)

    def _tell(self, trial: Any, *, state: Any, values: Sequence[float] | None) -> None:
        try:
            self.study.tell(trial, values=values, state=state)
        except RuntimeError as exc:
            # Optuna 2.x's grid sampler calls study.stop() once the grid is done, which ask-and-tell
            # reports as an error after the trial is recorded.
            if "Study.stop" not in str(exc):
                raise

    def too_many_failures(self) -> bool:
        return bool(self.failures) and len(self.failures) / max(self.told, 1) > self.sweeper.max_failure_rate

    def raise_if_failed(self) -> None:
        """Fail the sweep, with the first failed job's error, if failures went above max_failure_rate."""
        if self.stopped or self.too_many_failures():
            first = self.failures[0]
            first.return_value  # noqa: B018 - JobReturn raises the job's own exception, with its traceback

    # -- the loops ---------------------------------------------------------------------------
    def run_streaming(self) -> None:
        """n_jobs trials in flight: each finished trial is told, and the next one asked and started at once."""
        launcher = self.sweeper.launcher
        pending: dict[int, Any] = {}
        with launcher.job_stream(total=self.n_trials) as stream:
            try:
                self._fill(stream, pending)
                while pending:
                    job_num, ret = stream.next_finished()
                    self.tell(pending.pop(job_num), ret)
                    if ret.status is not JobStatus.COMPLETED and stream.settings.fail_fast:
                        self.stopped = True
                    self._fill(stream, pending)
            finally:
                stream.summary()

    def _fill(self, stream: Any, pending: dict[int, Any]) -> None:
        while not self.stopped and self.asked < self.n_trials and len(pending) < self.sweeper.n_jobs:
            trial, overrides = self.ask()
            job_num = self.next_job_num()
            try:
                stream.start(job_num, overrides)
            except Exception as exc:
                self._tell_failed(trial)
                if not stream.submitted_any:
                    raise  # nothing is running yet: the sweep fails before it starts, as any sweep would
                log.exception(f"Trial {trial.number} (job #{job_num}) could not start")
                self.told += 1
                self.failures.append(_failed_return(overrides, exc))
                if self.too_many_failures():
                    self.stopped = True
                continue
            pending[job_num] = trial

    def run_one_at_a_time(self) -> None:
        """Through launcher.launch, one trial per launch (other launchers, local mode)."""
        while not self.stopped and self.asked < self.n_trials:
            trial, overrides = self.ask()
            job_num = self.next_job_num()
            try:
                (ret,) = self.sweeper.launcher.launch([overrides], initial_job_idx=job_num)
            except BaseException:
                self._tell_failed(trial)
                raise
            self.tell(trial, ret)

    def plan_only(self) -> None:
        """A dry run: the first n_jobs trials (the next ones depend on their values), on an in-memory study."""
        count = min(self.sweeper.n_jobs, self.n_trials)
        asked = [self.ask() for _ in range(count)]
        self.sweeper.launcher.launch(
            [overrides for _, overrides in asked], initial_job_idx=self.sweeper.job_idx
        )
        log.info(
            f"Dry run: planned the first {count} of {self.n_trials} trials; later trials depend on their values"
        )


def _failed_return(overrides: Sequence[str], error: BaseException) -> JobReturn:
    ret = JobReturn()
    ret.overrides = list(overrides)
    ret.status = JobStatus.FAILED
    ret.return_value = error
    return ret


def _positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"hydra.sweeper.{name} must be an integer >= {low}, got {value!r}.")
    return value
