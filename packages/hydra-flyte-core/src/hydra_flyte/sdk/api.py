"""The Python SDK: `hydra_run` and `hydra_sweep` compose configs with Hydra and run a task per job."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.config.overrides import sweep_overrides
from hydra_flyte.config.task_env import DEFAULT_TASK_ENV_KEY
from hydra_flyte.config.tasks import task_short_name
from hydra_flyte.errors import (
    ConfigurationError,
    ContactLostError,
    HydraFlyteError,
    RunFailedError,
    SweepFailedError,
    SweepUnconfirmedError,
)
from hydra_flyte.remote.submit import JobSpec, ensure_endpoint, finish
from hydra_flyte.results import JobOutcome
from hydra_flyte.sdk.prepare import (
    composition_error,
    prepare,
    settings_from_keywords,
    without_flyte_launcher_selection,
)
from hydra_flyte.settings_schema import DEFAULTS, LaunchSettings, keywords_for


def _hydra_errors() -> tuple[type[BaseException], ...]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return (HydraException, OmegaConfBaseException)


def hydra_run(
    task: Any,
    *,
    config_path: str | os.PathLike[str] | None = None,
    config_name: str | None = None,
    overrides: Iterable[str] | str | None = (),
    mode: str = DEFAULTS["mode"],
    wait: bool = DEFAULTS["wait"],
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    run_options: Mapping[str, Any] | None = None,
    task_env_key: str = DEFAULT_TASK_ENV_KEY,
    dry_run: bool = DEFAULTS["dry_run"],
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
    capacity_timeout_seconds: float = DEFAULTS["capacity_timeout_seconds"],
    summary: str = DEFAULTS["summary"],
    **task_kwargs: Any,
) -> Any:
    """Compose one config and run `task` once with it.

    Returns a RunResult (local mode, or remote with wait=True) or the submitted
    `flyte.remote.Run` (remote with wait=False). Raises RunFailedError if the run fails, and
    ContactLostError if the control plane stayed unreachable for `reconnect_timeout_seconds`
    (after flyte's own reconnects) while waiting: the run's phase is then unconfirmed.

    When the run ends its summary (overrides, phase, value, duration, URL) is printed on stdout,
    as a table or, with `summary="json"`, one JSON document; `summary="none"` prints nothing.
    While it runs, what else is printed (Hydra's logs, flyte's messages) goes to stderr.

    Example::

        result = hydra_run(pipeline, config_path="conf", config_name="training",
                           overrides=["optimizer.lr=0.01"], dataset="digits", mode="local")
        print(result.value)
    """
    settings = settings_from_keywords(keywords_for("hydra_run", locals()))
    return run_with_settings(
        task,
        settings=settings,
        config_path=config_path,
        config_name=config_name,
        overrides=overrides,
        task_env_key=task_env_key,
        task_kwargs=task_kwargs,
    )


def run_with_settings(
    task: Any,
    *,
    settings: LaunchSettings,
    config_path: str | os.PathLike[str] | None,
    config_name: str | None,
    overrides: Iterable[str] | str | None,
    task_env_key: str,
    task_kwargs: Mapping[str, Any],
) -> Any:
    """`hydra_run` with its launch settings built already (the CLI builds them from its flags)."""
    from hydra_flyte.compat.hydra_private import hydra_app

    call, config_dir, override_list, settings = prepare(
        task,
        config_path=config_path,
        overrides=overrides,
        task_env_key=task_env_key,
        task_kwargs=task_kwargs,
        settings=settings,
    )
    # Launcher fields were read into the settings; a single run has no launcher to give them to.
    override_list = [o for o in override_list if not o.lstrip("+~").startswith("hydra.launcher.")]
    sweeping = sweep_overrides(override_list)
    if sweeping:
        raise ConfigurationError(
            f"hydra_run runs one job, but {', '.join(repr(s) for s in sweeping)} sweep(s) over several values: "
            "use hydra_sweep (or --multirun on the command line), or give a single value."
        )
    if settings.mode == "remote" and not settings.dry_run:
        ensure_endpoint()
    job = JobSpec(settings=settings, job_num=None, overrides=tuple(override_list))

    def task_function(cfg: Any) -> Any:
        return finish(call.start(cfg, job), job)

    import time

    from hydra_flyte.state.output import print_plans, results_on_stdout
    from hydra_flyte.state.summary import print_summary, run_header, single_record

    def summarise(**outcome: Any) -> None:
        if settings.dry_run:  # the plan of what would have run (its describe()), never a summary row
            if outcome.get("result") is not None:
                print_plans([outcome["result"]])
            return
        record = single_record(override_list, duration=time.monotonic() - started, **outcome)
        header = run_header(task=str(task.name), mode=settings.mode, run_options=settings.run_options)
        print_summary([record], fmt=settings.summary, title="Run", header=header)

    started = time.monotonic()
    with results_on_stdout(), hydra_app(config_dir, job_name=task_short_name(task)) as hydra:
        try:
            ret = hydra.run(config_name=config_name, task_function=task_function, overrides=override_list)
        except (RunFailedError, ContactLostError) as exc:
            summarise(error=exc)
            raise
        except HydraFlyteError:
            raise
        except _hydra_errors() as exc:
            raise composition_error(exc, config_name, config_dir, override_list) from exc
        summarise(result=ret.return_value)
    return ret.return_value


def hydra_sweep(
    task: Any,
    *,
    config_path: str | os.PathLike[str] | None = None,
    config_name: str | None = None,
    overrides: Iterable[str] | str | None = (),
    mode: str = DEFAULTS["mode"],
    wait: bool = DEFAULTS["wait"],
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    submit_max_workers: int | None = DEFAULTS["submit_max_workers"],
    run_options: Mapping[str, Any] | None = None,
    task_env_key: str = DEFAULT_TASK_ENV_KEY,
    dry_run: bool = DEFAULTS["dry_run"],
    fail_fast: bool = DEFAULTS["fail_fast"],
    abort_on_interrupt: bool = DEFAULTS["abort_on_interrupt"],
    resume: str | os.PathLike[str] | None = DEFAULTS["resume"],
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
    capacity_timeout_seconds: float = DEFAULTS["capacity_timeout_seconds"],
    report: bool = DEFAULTS["report"],
    summary: str = DEFAULTS["summary"],
    detach: bool = DEFAULTS["detach"],
    max_concurrency: int = DEFAULTS["max_concurrency"],
    **task_kwargs: Any,
) -> list[Any]:
    """Expand sweep overrides (or run a custom sweeper) and run `task` once per job.

    Remote jobs are submitted `submit_max_workers` at a time (each URL printed as it lands), then
    waited on `wait_max_workers` at a time. Results come back in the order Hydra's BasicSweeper produces the jobs (for a custom
    sweeper such as Optuna: the order its trials were launched). If any job fails, every job
    still finishes and then SweepFailedError is raised with every job's outcome.

    `resume` (a manifest, its sweep directory or a sweep id) finishes an earlier remote grid sweep
    instead of starting one, with the same arguments: its succeeded jobs are kept (their values
    returned), its unfinished runs waited on, and its failed or never-submitted jobs submitted anew.
    With `hydra/sweeper=optuna_async` and `hydra.sweeper.storage` set, it continues the sweep's
    study instead (hydra_flyte.optuna.resume).
    While waiting, an unreachable control plane is retried for `reconnect_timeout_seconds` (after
    flyte's own reconnects, about 36 s); the jobs still unfinished then are recorded UNCONFIRMED
    in the manifest and SweepUnconfirmedError (a SweepFailedError, every outcome kept; an
    unconfirmed job's error is a ContactLostError) says how to reattach.

    Example::

        results = hydra_sweep(pipeline, config_path="conf", config_name="training",
                              overrides=["optimizer.lr=0.001,0.01,0.1"], dataset="digits", mode="local")
        print([r.value for r in results])

    When the sweep ends its summary is printed once on stdout: one row per job (overrides, phase,
    value or error, duration, URL), the best job marked; `summary="json"` prints one JSON document
    (the manifest's record fields) instead, `summary="none"` nothing. Progress, Hydra's logs and
    flyte's messages go to stderr meanwhile.

    `report=True` writes the sweep's HTML report beside its manifest when it ends (as
    `sweep_report` does; needs `pip install "hydra-flyte-core[report]"`).

    `detach=True` (remote) submits the whole sweep as one Flyte run: a driver task runs each job as
    a child action, at most `max_concurrency` at once, so the sweep goes on if this process ends.
    With `wait=True` it still waits for that run and returns the jobs' results; with `wait=False` it
    returns once the run is created (`sweep_status` follows it).
    """
    keywords = keywords_for("hydra_sweep", locals())
    if resume is not None:
        keywords["resume"] = os.fspath(resume)
    return sweep_with_settings(
        task,
        settings=settings_from_keywords(keywords),
        config_path=config_path,
        config_name=config_name,
        overrides=overrides,
        task_env_key=task_env_key,
        task_kwargs=task_kwargs,
    )


def sweep_with_settings(
    task: Any,
    *,
    settings: LaunchSettings,
    config_path: str | os.PathLike[str] | None,
    config_name: str | None,
    overrides: Iterable[str] | str | None,
    task_env_key: str,
    task_kwargs: Mapping[str, Any],
) -> list[Any]:
    """`hydra_sweep` with its launch settings built already (the CLI builds them from its flags).

    The settings reach FlyteLauncher whole, through the launch overlay: `hydra.launcher` is not read.
    """
    from hydra_flyte.compat.hydra_private import hydra_app
    from hydra_flyte.compose.heap import heap_frozen
    from hydra_flyte.engine.job_scope import current_job
    from hydra_flyte.engine.overlay import LaunchOverlay, launch_overlay
    from hydra_flyte.engine.registration import ensure_launcher_registered
    from hydra_flyte.state.sweep_lock import release_sweep_lock

    call, config_dir, override_list, settings = prepare(
        task,
        config_path=config_path,
        overrides=overrides,
        task_env_key=task_env_key,
        task_kwargs=task_kwargs,
        settings=settings,
    )
    user_overrides = without_flyte_launcher_selection(override_list)
    if settings.mode == "remote" and not settings.dry_run:
        ensure_endpoint()

    def task_function(cfg: Any) -> Any:
        job = current_job()
        assert job is not None, "hydra_sweep's task function runs only inside FlyteLauncher"
        return call.start(cfg, job)

    outcomes: list[JobOutcome] = []

    def record(job_num: int, ret: Any) -> None:
        from hydra.core.utils import JobStatus

        failed = ret.status is not JobStatus.COMPLETED
        outcomes.append(
            JobOutcome(
                job_num=job_num,
                overrides=list(ret.overrides or []),
                result=None if failed else job_value(ret),
                error=job_value(ret) if failed else None,
            )
        )

    overlay = LaunchOverlay(
        settings=settings,
        on_job_finished=record,
        task_name=str(task.name),
        task_env_key=task_env_key,
        check_job=call.check,
        plan_job=call.start,
    )
    from hydra_flyte.state.output import results_on_stdout
    from hydra_flyte.state.summary import flush_pending

    token = launch_overlay().set(overlay)
    try:
        # The whole sweep, batch validation included, gets what FlyteLauncher gives each launch.
        with (
            results_on_stdout(),
            hydra_app(config_dir, job_name=task_short_name(task)) as hydra,
            heap_frozen(),
            contextlib.ExitStack() as at_end,
        ):
            at_end.callback(flush_pending)  # a sweeper that launched in batches: its summary, once
            ensure_launcher_registered()
            try:
                hydra.multirun(
                    config_name=config_name,
                    task_function=task_function,
                    overrides=["hydra/launcher=flyte", *user_overrides],
                )
            except HydraFlyteError:
                if not outcomes:  # else the launch's own report (fail-fast, lost contact) of recorded jobs
                    raise
            except _hydra_errors() as exc:
                raise composition_error(exc, config_name, config_dir, user_overrides) from exc
            except Exception as exc:
                # A sweeper reading a failed job's return_value re-raises that job's error: every
                # outcome is recorded, SweepFailedError below reports them all. Anything else (the
                # sweeper's own failure, even after good batches) is the sweep's failure.
                if not _is_a_jobs_error(exc, outcomes):
                    raise
    finally:
        launch_overlay().reset(token)
        for lock in overlay.sweep_locks:  # the sweep has ended: its directory is free again
            release_sweep_lock(lock)
    outcomes.sort(key=lambda o: o.job_num)
    if any(isinstance(o.error, ContactLostError) for o in outcomes):
        raise SweepUnconfirmedError(outcomes)
    if any(not o.ok for o in outcomes):
        raise SweepFailedError(outcomes)
    return [o.result for o in outcomes]


def _is_a_jobs_error(exc: BaseException, outcomes: list[JobOutcome]) -> bool:
    """True if `exc` (or what it wraps) is the error a recorded job ended with."""
    errors = {id(o.error) for o in outcomes if o.error is not None}
    seen: BaseException | None = exc
    while seen is not None:
        if id(seen) in errors:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
