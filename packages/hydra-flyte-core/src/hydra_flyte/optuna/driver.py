"""The driver task of a detached `hydra/sweeper=optuna_async` sweep: Optuna's ask-and-tell loop, on the cluster.

The submitting side (hydra_flyte.optuna.detached) ships an `OptunaPlan`: the job's task call as the
first trial's job function made it (its task, inputs and the place of the composed config among
them), the primary config directory's files, the config name, and the sweeper's settings (search
space, sampler, directions, n_trials, n_jobs, max_failure_rate, study name, custom search space).

The driver composes each trial's config as a local sweep does (the trial's overrides, i.e. its
parameters and the sweep's fixed values, on the primary config, through Hydra's compose API),
re-applies task_env with the sweep's task_env key to the task, and calls it inside the group
`job-<n>` (trial number = job number): each trial is a child action that `flyte hydra status`
(hydra_flyte.durable.status) maps to its job. At most `n_jobs` trials are in flight; when one
ends its value is told to the in-memory study and the next trial is asked at once. The
bookkeeping (failures, max_failure_rate, the sweep's marks on each trial) is the attached
sweeper's own TrialLoop.

The output is JSON: {"kind": "optuna", "outcomes": [one per trial, as hydra_flyte.durable.driver's,
plus its "overrides"], "results": optimization_results.yaml's content (or null), "study": every
trial's number, job, state, params, distributions, values and user attributes, "stopped": bool}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flyte

from hydra_flyte.durable.driver import InstalledTaskResolver, failure_phase, job_group
from hydra_flyte.state.phases import ABORTED, FAILED, SUCCEEDED

log = logging.getLogger(__name__)

optuna_driver_env = flyte.TaskEnvironment(
    name="hydra_flyte_optuna_driver",
    resources=flyte.Resources(cpu=1, memory="1Gi"),
)

#: The `kind` of a detached Optuna sweep's driver output and manifest record.
KIND = "optuna"


@dataclass
class OptunaPlan:
    """What the driver needs to run the study: the task call, the config to compose, the sweeper's settings."""

    task: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    config_slot: tuple[str, Any]  # ("arg", index) or ("kwarg", name): where the composed config goes
    task_env_key: str
    config_files: (
        dict[str, str] | None
    )  # the primary config directory (relative path -> text); None: ConfigStore
    config_name: str | None
    job_name: str
    sweep_config: dict[str, Any]  # the sweep's config (multirun.yaml), for custom_search_space
    params: dict[str, Any] | None
    arguments: list[str]
    search_space: dict[str, Any] | None
    sampler: dict[str, Any] | None
    directions: list[str]
    n_trials: int
    n_jobs: int
    max_failure_rate: float
    study_name: str | None
    custom_search_space: str | None
    sweep_id: str | None
    fail_fast: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# -- composing a trial's config ---------------------------------------------------------------------


@contextlib.contextmanager
def composer(plan: OptunaPlan) -> Iterator[Callable[[Sequence[str]], Any]]:
    """`compose(overrides)`: a trial's task config (no `hydra` node), composed from the plan's config files.

    Hydra is initialised on a copy of the primary config directory for the block (any Hydra already
    initialised in this process is put back after).
    """
    from hydra import compose

    from hydra_flyte.compat.hydra_private import hydra_app

    with contextlib.ExitStack() as stack:
        config_dir = None
        if plan.config_files is not None:
            config_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="hydra-flyte-conf-"))
            for relative, text in plan.config_files.items():
                path = os.path.join(config_dir, relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
        stack.enter_context(hydra_app(config_dir, job_name=plan.job_name))

        def compose_trial(overrides: Sequence[str]) -> Any:
            return compose(config_name=plan.config_name, overrides=list(overrides))

        yield compose_trial


def task_call(plan: OptunaPlan, cfg: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The task (task_env of `cfg` applied) and inputs of the trial whose config is `cfg`."""
    from hydra_flyte.config.task_env import apply_task_env

    args, kwargs = list(plan.args), dict(plan.kwargs)
    where, key = plan.config_slot
    if where == "arg":
        args[key] = cfg
    else:
        kwargs[key] = cfg
    return apply_task_env(plan.task, cfg, task_env_key=plan.task_env_key), tuple(args), kwargs


# -- the study, as JSON -------------------------------------------------------------------------------


def trial_json(trial: Any, optuna: Any) -> dict[str, Any]:
    """One finished (or open) trial as JSON: enough to add it to another study with `trial_from_json`."""
    values = trial.values if trial.values is not None else None
    return {
        "number": trial.number,
        "state": trial.state.name,
        "params": dict(trial.params),
        "distributions": {
            name: optuna.distributions.distribution_to_json(dist)
            for name, dist in trial.distributions.items()
        },
        "values": list(values) if values is not None else None,
        "user_attrs": {k: v for k, v in trial.user_attrs.items() if _is_json(v)},
    }


def trial_from_json(data: Mapping[str, Any], optuna: Any) -> Any:
    """A FrozenTrial for `study.add_trial` from `trial_json`'s output."""
    import warnings

    state = getattr(optuna.trial.TrialState, str(data["state"]))
    values = data.get("values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_trial is "experimental" in Optuna 2.x
        return _create_trial(optuna, data, state, values)


def _create_trial(optuna: Any, data: Mapping[str, Any], state: Any, values: Any) -> Any:
    return optuna.trial.create_trial(
        params=dict(data["params"]),
        distributions={
            name: optuna.distributions.json_to_distribution(text)
            for name, text in data["distributions"].items()
        },
        values=list(values) if values is not None and state == optuna.trial.TrialState.COMPLETE else None,
        state=state,
        user_attrs=dict(data.get("user_attrs") or {}),
    )


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def optimization_results(study: Any, directions: Sequence[str]) -> dict[str, Any] | None:
    """optimization_results.yaml's content, as the stock sweeper writes it; None when no trial completed."""
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        return None
    if len(directions) == 1:
        best = study.best_trial
        return {"name": "optuna", "best_params": dict(best.params), "best_value": best.value}
    return {
        "name": "optuna",
        "solutions": [{"params": dict(t.params), "values": list(t.values)} for t in study.best_trials],
    }


# -- the loop ---------------------------------------------------------------------------------------


class _DriverSweeper:
    """What TrialLoop reads of its sweeper, in the driver."""

    def __init__(self, plan: OptunaPlan, optuna: Any, config: Any) -> None:
        self.optuna = optuna
        self.config = config
        self.directions = list(plan.directions)
        self.max_failure_rate = plan.max_failure_rate
        self.n_jobs = plan.n_jobs
        self.job_idx = 0


def _job_return(overrides: Sequence[str], *, value: Any = None, error: BaseException | None = None) -> Any:
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn()
    ret.overrides = list(overrides)
    ret.status = JobStatus.COMPLETED if error is None else JobStatus.FAILED
    ret.return_value = value if error is None else error
    return ret


async def run_study(plan: OptunaPlan, *, call: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Ask, run and tell every trial of the plan (at most n_jobs in flight); the driver's output (a dict).

    `call(job, task, args, kwargs)`: how a trial's task is awaited (default: inside its `job-<n>` group).
    """
    from hydra.core.utils import JobStatus
    from omegaconf import OmegaConf

    from hydra_flyte.compat.hydra_private import job_value
    from hydra_flyte.optuna.space import build_sampler, build_search_space, is_grid_sampler, require_optuna
    from hydra_flyte.optuna.trials import TrialLoop
    from hydra_flyte.state.manifest import jsonable

    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = build_search_space(plan.params, plan.arguments, plan.search_space)
    sampler = build_sampler(
        OmegaConf.create(plan.sampler) if plan.sampler is not None else None, space, optuna
    )
    n_trials = plan.n_trials
    if sampler is not None and is_grid_sampler(sampler, optuna):
        n_trials = min(n_trials, space.grid_size())
    study = optuna.create_study(study_name=plan.study_name, sampler=sampler, directions=plan.directions)
    extender = None
    if plan.custom_search_space:
        from hydra.utils import get_method

        extender = get_method(plan.custom_search_space)
    sweeper = _DriverSweeper(plan, optuna, OmegaConf.create(plan.sweep_config))
    loop = TrialLoop(sweeper, study, space, extender, n_trials=n_trials, sweep_id=plan.sweep_id)
    call = call or _call_in_group
    outcomes: dict[int, dict[str, Any]] = {}
    pending: dict[asyncio.Future[Any], tuple[int, Any, list[str]]] = {}

    with composer(plan) as compose:

        def start_next() -> None:
            while not loop.stopped and loop.asked < loop.n_trials and len(pending) < plan.n_jobs:
                job = loop.next_job_num()
                trial, overrides = loop.ask(job)
                try:
                    task, args, kwargs = task_call(plan, compose(overrides))
                except Exception as exc:  # the trial's config does not compose, or its task_env is wrong
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning(f"trial {trial.number} (job {job}) could not start: {error}")
                    loop.tell(trial, _job_return(overrides, error=exc))
                    outcomes[job] = {"job": job, "phase": FAILED, "value": None, "error": error,
                                     "overrides": overrides}  # fmt: skip
                    continue
                future = asyncio.ensure_future(call(job, task, args, kwargs))
                pending[future] = (job, trial, overrides)

        start_next()
        while pending:
            done, _ = await asyncio.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: pending[f][0]):
                job, trial, overrides = pending.pop(future)
                try:
                    value = future.result()
                except BaseException as exc:  # noqa: BLE001 - a child's failure (or its cancellation) is the trial's
                    phase = ABORTED if isinstance(exc, asyncio.CancelledError) else failure_phase(exc)
                    error = "fail_fast: aborted, another trial had failed" if loop.stopped and phase == ABORTED else (
                        f"{type(exc).__name__}: {exc}")  # fmt: skip
                    ret = _job_return(
                        overrides, error=exc if isinstance(exc, Exception) else RuntimeError(error)
                    )
                    loop.tell(trial, ret)
                    outcomes[job] = {
                        "job": job,
                        "phase": phase,
                        "value": None,
                        "error": error,
                        "overrides": overrides,
                    }
                    if plan.fail_fast and not loop.stopped:
                        loop.stopped = True
                        for other in pending:
                            other.cancel()
                    continue
                ret = _job_return(overrides, value=value)
                loop.tell(trial, ret)
                if ret.status is JobStatus.COMPLETED:
                    outcomes[job] = {"job": job, "phase": SUCCEEDED, "value": jsonable(value), "error": None,
                                     "overrides": overrides}  # fmt: skip
                else:  # the run succeeded but its value is not an objective: the trial failed
                    outcomes[job] = {"job": job, "phase": FAILED, "value": jsonable(value),
                                     "error": str(job_value(ret)), "overrides": overrides}  # fmt: skip
            start_next()
    return {
        "kind": KIND,
        "outcomes": [outcomes[job] for job in sorted(outcomes)],
        "results": optimization_results(study, plan.directions),
        "study": {
            "study_name": study.study_name,
            "directions": list(plan.directions),
            "trials": [trial_json(t, optuna) for t in study.trials],
        },
        "stopped": bool(loop.stopped or loop.too_many_failures()),
        "n_trials": n_trials,
    }


async def _call_in_group(job: int, task: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    with flyte.group(job_group(job)):
        return await task.aio(*args, **kwargs)


@optuna_driver_env.task
async def optuna_driver(plan: str) -> str:
    """Run the detached Optuna sweep of `plan` (hydra_flyte.durable.plan encoding of an OptunaPlan); its output as JSON."""
    from hydra_flyte.durable.plan import decode

    decoded: OptunaPlan = decode(plan)
    print(
        f"hydra-flyte optuna driver: {decoded.n_trials} trials, at most {decoded.n_jobs} at once", flush=True
    )
    output = await run_study(decoded)
    done = sum(1 for o in output["outcomes"] if o["phase"] == SUCCEEDED)
    print(f"hydra-flyte optuna driver: {done} of {len(output['outcomes'])} trials succeeded", flush=True)
    return json.dumps(output)


optuna_driver.task_resolver = InstalledTaskResolver()
