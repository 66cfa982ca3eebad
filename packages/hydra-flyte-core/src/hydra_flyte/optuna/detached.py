"""A detached `hydra/sweeper=optuna_async` sweep, on the submitting side: the driver run created, its end recorded.

With detach, the whole ask-and-tell loop runs in one driver run on the cluster (hydra_flyte.optuna.driver),
each trial one child action. Here:

- the task call is captured: a first trial is asked of an in-memory study with the sweep's sampler, its job
  composed and its job function run through the launcher's detached pool (nothing is submitted); the driver
  replaces the composed config in that call with each trial's own and re-applies task_env;
- the plan carries the primary config directory's files, the config name and the sweeper's settings; the
  first trial's config is composed here again from those files, as the driver will compose it, and must
  equal the launcher's (else the driver's trials would not be the sweep's configs: refused);
- the manifest plans one job per trial (its overrides known when the driver's output is read) and the
  driver run is created (its record names `record_end` as its `on_end`, see hydra_flyte.durable.status);
- when the driver's end is read (here when waiting, or later by `flyte hydra status`), `record_end` sets each
  job's overrides, ends the jobs never asked, writes `<sweep dir>/optimization_results.yaml` and, with
  `hydra.sweeper.storage`, adds every trial (params, distributions, values, state, the sweep's marks) to the
  study loaded from that storage (`study.add_trial`; a trial of this sweep already there is not added again).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra_flyte.errors import ConfigurationError
from hydra_flyte.optuna.driver import KIND, OptunaPlan
from hydra_flyte.state.manifest import Manifest

log = logging.getLogger(__name__)

#: The largest primary config directory a plan carries (its files are read into the plan).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
RESULTS_NAME = "optimization_results.yaml"
END_HOOK = f"{__name__}.record_end"


def primary_config_dir(config: Any) -> str | None:
    """The directory of the sweep's primary config (None when it comes from a ConfigStore or a package)."""
    for source in config.hydra.runtime.config_sources:
        if source.get("provider") == "main" and str(source.get("schema")) == "file":
            return str(source.path)
    return None


def read_config_files(config_dir: str | None) -> dict[str, str] | None:
    """Every text file under `config_dir` (relative path -> text); None for no directory."""
    if config_dir is None:
        return None
    root = Path(config_dir)
    files: dict[str, str] = {}
    size = 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in path.parts):
            continue
        if path.suffix not in (".yaml", ".yml"):
            continue
        text = path.read_text(encoding="utf-8")
        size += len(text)
        if size > MAX_CONFIG_BYTES:
            raise ConfigurationError(
                f"detach: the config directory {config_dir} holds more than {MAX_CONFIG_BYTES // 1024 // 1024} MB of "
                "YAML, all of which the driver run would carry: trim it, or drop --detach."
            )
        files[path.relative_to(root).as_posix()] = text
    return files


def config_slot(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[str, Any]:
    """Where the composed config is among a task call's inputs: ("arg", i) or ("kwarg", name); exactly one."""
    from omegaconf import DictConfig

    found = [("arg", i) for i, a in enumerate(args) if isinstance(a, DictConfig)]
    found += [("kwarg", k) for k, v in kwargs.items() if isinstance(v, DictConfig)]
    if len(found) != 1:
        raise ConfigurationError(
            "detach with hydra/sweeper=optuna_async: the driver gives each trial's composed config to the task, "
            f"so the task must take exactly one DictConfig input; the job's flyte.run passed {len(found)}."
        )
    return found[0]


def base_task(task: Any) -> Any:
    """The task as its module defines it (without the first trial's task_env override), when it can be found."""
    func = getattr(task, "func", None)
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    defined = getattr(module, getattr(func, "__qualname__", "") or "", None) if module is not None else None
    return defined if defined is not None and getattr(defined, "func", None) is func else task


def _plain(node: Any) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=False)
    return node


def run_detached(
    sweeper: Any, *, space: Any, extender: Any, n_trials: int, sweep_dir: Path, arguments: list[str]
) -> None:
    """Create the sweep's driver run; with `wait`, follow it to its end, record it and fail as the attached sweep would."""
    from omegaconf import OmegaConf

    from hydra_flyte.durable.plan import encode
    from hydra_flyte.durable.submit import DetachedJobs, submit_driver
    from hydra_flyte.optuna.driver import composer, optuna_driver
    from hydra_flyte.optuna.space import build_sampler
    from hydra_flyte.optuna.trials import TrialLoop

    optuna, launcher, config = sweeper.optuna, sweeper.launcher, sweeper.config
    settings = launcher.settings()
    if settings.resume is not None:
        raise ConfigurationError(
            "hydra/sweeper=optuna_async with detach cannot resume: its study lives in the driver run. Drop the "
            "resume option (or detach)."
        )
    manifest = launcher.sweep_manifest(sweep_dir)
    # The task call, from a first trial asked of a throwaway study (the driver asks its own).
    probe = TrialLoop(
        sweeper,
        optuna.create_study(sampler=build_sampler(sweeper.sampler_node, space, optuna), directions=sweeper.directions),
        space, extender, n_trials=n_trials, sweep_id=manifest.sweep_id,
    )  # fmt: skip
    _, overrides = probe.ask(0)
    planned, task_env_key, job_config = launcher.detached_job(overrides, 0)
    where = config_slot(planned.args, planned.kwargs)
    config_dir = primary_config_dir(config)
    plan = OptunaPlan(
        task=base_task(planned.task),
        args=planned.args,
        kwargs=planned.kwargs,
        config_slot=where,
        task_env_key=task_env_key,
        config_files=read_config_files(config_dir),
        config_name=config.hydra.job.config_name,
        job_name=str(config.hydra.job.name),
        sweep_config=_plain(config),
        params=_plain(sweeper.params),
        arguments=list(arguments),
        search_space=_plain(sweeper.search_space_config),
        sampler=_plain(sweeper.sampler_node),
        directions=list(sweeper.directions),
        n_trials=n_trials,
        n_jobs=sweeper.n_jobs,
        max_failure_rate=sweeper.max_failure_rate,
        study_name=sweeper.study_name,
        custom_search_space=sweeper.custom_search_space,
        sweep_id=manifest.sweep_id,
        fail_fast=settings.fail_fast,
    )
    captured = planned.args[where[1]] if where[0] == "arg" else planned.kwargs[where[1]]
    with composer(plan) as compose:
        again = compose(overrides)
    if OmegaConf.to_container(again, resolve=False) != OmegaConf.to_container(captured, resolve=False):
        raise ConfigurationError(
            "detach with hydra/sweeper=optuna_async: the driver composes each trial's config from the primary "
            f"config directory ({config_dir or 'none: ConfigStore only'}) and config '{plan.config_name}', but the first "
            "trial composed that way differs from the config the job passed to its task (a config from elsewhere on "
            "the search path, or a job function that changes it?). Drop --detach for this sweep."
        )
    del job_config
    manifest.plan((num, (), None) for num in range(n_trials))
    run = submit_driver(
        DetachedJobs(), settings=settings, manifest=manifest, task=optuna_driver, inputs={"plan": encode(plan)},
        max_concurrency=sweeper.n_jobs, record={"kind": KIND, "on_end": END_HOOK, "n_trials": n_trials},
    )  # fmt: skip
    print(
        f"Detached Optuna sweep {manifest.sweep_id}: {n_trials} trials, {sweeper.n_jobs} at a time, in run {run.name} "
        f"({run.url}); follow it with: flyte hydra status {manifest.path}"
        + ("" if settings.wait else " --wait"),
        file=sys.stderr,
        flush=True,
    )
    if settings.wait:
        from hydra_flyte.durable.status import refresh
        from hydra_flyte.remote.contact import Contact

        refresh(manifest, wait=True, call=Contact(settings.reconnect_timeout_seconds).call)
    launcher.detached_end(run, waited=settings.wait)
    if settings.wait:
        from hydra_flyte.errors import RunFailedError
        from hydra_flyte.state.phases import SUCCEEDED

        told = [r for r in manifest.records() if r.overrides or r.phase == SUCCEEDED]  # asked by the driver
        failures = [r for r in told if r.phase != SUCCEEDED]
        if failures and len(failures) / len(told) > sweeper.max_failure_rate:
            first = failures[0]
            raise RunFailedError(
                url=run.url, phase=first.phase, message=f"trial {first.job}: {first.error}", run=run
            )


def record_end(manifest: Manifest, output: Any) -> None:
    """The driver's end (its output read): each job's overrides, the jobs never asked, the results file, the storage."""
    from hydra_flyte.state.phases import ABORTED, CONFIRMED_TERMINAL

    if not isinstance(output, dict) or output.get("kind") != KIND:
        return
    asked = {int(o["job"]): o for o in output.get("outcomes", [])}
    for num, record in manifest.jobs.items():
        outcome = asked.get(num)
        if outcome is not None:
            manifest.asked(num, outcome.get("overrides") or [])
        elif record.phase not in CONFIRMED_TERMINAL:
            manifest.finished(
                num, phase=ABORTED, error="not asked: the study stopped (max_failure_rate or fail_fast)"
            )
    sweep_dir = manifest.path.parent
    results = output.get("results")
    if results:
        from omegaconf import OmegaConf

        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS_NAME)
    else:
        log.warning(f"No trial completed: {RESULTS_NAME} not written")
    tell_storage(sweep_dir, manifest.sweep_id, output.get("study") or {})


def _sweeper_settings(sweep_dir: Path) -> Any:
    from omegaconf import OmegaConf

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    return OmegaConf.load(path).hydra.get("sweeper")


def tell_storage(sweep_dir: Path, sweep_id: str, study: Mapping[str, Any]) -> str | None:
    """Add the driver's trials to the study in `hydra.sweeper.storage` (multirun.yaml's); its name, or None with no storage."""
    from hydra_flyte.optuna.driver import trial_from_json
    from hydra_flyte.optuna.space import require_optuna
    from hydra_flyte.optuna.trials import JOB_ATTR, SWEEP_ATTR

    sweeper = _sweeper_settings(sweep_dir)
    storage = sweeper.get("storage") if sweeper is not None else None
    if storage is None or not study.get("trials"):
        return None
    from omegaconf import DictConfig

    if isinstance(storage, DictConfig) and "_target_" in storage:
        from hydra.utils import instantiate

        storage = instantiate(storage)
    else:
        storage = str(storage)
    optuna = require_optuna()
    loaded = optuna.create_study(
        study_name=sweeper.get("study_name") or study.get("study_name"),
        storage=storage,
        directions=list(study.get("directions") or ["minimize"]),
        load_if_exists=True,
    )
    there = {
        t.user_attrs.get(JOB_ATTR)
        for t in loaded.get_trials(deepcopy=False)
        if t.user_attrs.get(SWEEP_ATTR) == sweep_id
    }
    added = 0
    for data in study["trials"]:
        if (data.get("user_attrs") or {}).get(JOB_ATTR) in there:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # add_trial is "experimental" in Optuna 2.x
            loaded.add_trial(trial_from_json(data, optuna))
        added += 1
    from hydra_flyte.optuna.resume import study_key

    loaded.set_user_attr(study_key(sweep_id), str(sweep_dir))
    log.info(f"Optuna study {loaded.study_name!r}: {added} trials of sweep {sweep_id} added to its storage")
    return str(loaded.study_name)
