"""A detached sweep whose jobs are asked on the cluster (`hydra/sweeper=optuna_async` with detach): the launcher's part.

The sweeper cannot know each job before it runs, so instead of a batch the launcher gives it:
- `capture_job`: one job composed, checked and run through its job function with a detached
  submission pool (hydra_flyte.durable.submit.DetachedJobs), so the task it calls, with its inputs,
  is kept and nothing is submitted, no snapshot written: the call the driver repeats per job;
- `end_jobs`: every job of the manifest handed to Hydra's side (the SDK's outcomes, the summary)
  once the driver run was created or, when waited on, ended.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus

from hydra_flyte.errors import ConfigurationError

if TYPE_CHECKING:
    from hydra_flyte.durable.plan import PlannedJob
    from hydra_flyte.engine.launch import Launch


def capture_job(launch: Launch, overrides: Sequence[str], job_num: int) -> tuple[PlannedJob, str, Any]:
    """The task call of job `job_num` (its PlannedJob), the launch's task_env key and the job's composed config."""
    from hydra_flyte.compat.hydra_private import job_value
    from hydra_flyte.compose.run_job import run_sweep_job
    from hydra_flyte.config.task_env import DEFAULT_TASK_ENV_KEY
    from hydra_flyte.durable.submit import DetachedJobs
    from hydra_flyte.engine.job_scope import job_scope
    from hydra_flyte.remote.submit import JobSpec

    settings, manifest = launch.settings, launch.manifest
    cfg = launch.compose(overrides, job_num)
    launch.raise_if_invalid([launch.invalid_config(cfg, job_num, overrides)])
    pool = DetachedJobs()
    job = JobSpec(
        settings=settings,
        job_num=job_num,
        overrides=tuple(overrides),
        pool=pool,  # type: ignore[arg-type]
        sweep_id=manifest.sweep_id if manifest is not None else None,
    )
    job_dir = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
    existed = job_dir.exists()
    with contextlib.ExitStack() as stack:
        launch.remote_submission(stack)  # flyte initialised as for any remote launch
        with job_scope(job):
            # As a dry run does: no job logging, no snapshots (the driver composes the jobs it runs).
            ret = run_sweep_job(
                hydra_context=launch.hydra_context,
                task_function=launch.task_function,
                config=cfg,
                dry_run=True,
            )
    if not existed:
        with contextlib.suppress(OSError):
            os.rmdir(job_dir)  # left empty: the job's directory belongs to the driver's job
    if ret.status is not JobStatus.COMPLETED:
        error = job_value(ret)
        raise error if isinstance(error, BaseException) else RuntimeError(str(error))
    if len(pool.jobs) != 1:
        raise ConfigurationError(
            "detach with hydra/sweeper=optuna_async: the job function must call flyte.run once (with the task "
            f"that takes the composed config); it called it {len(pool.jobs)} times."
        )
    overlay = launch.overlay
    task_env_key = overlay.task_env_key if overlay is not None else DEFAULT_TASK_ENV_KEY
    return pool.jobs[0], task_env_key, cfg


def end_jobs(launch: Launch, run: Any, *, waited: bool) -> list[JobReturn]:
    """Each job of the manifest as Hydra's JobReturn, told to the SDK; the summary printed when the sweep ends."""
    from hydra_flyte.engine.detached import outcome_of

    manifest = launch.manifest
    assert manifest is not None
    returns = []
    for record in manifest.records():
        ret = JobReturn()
        ret.overrides = list(record.overrides)
        ret.status = JobStatus.COMPLETED
        outcome = outcome_of(record, run) if waited else run
        if isinstance(outcome, BaseException):
            ret.status = JobStatus.FAILED
        ret.return_value = outcome
        launch.job_finished(record.job, ret)
        returns.append(ret)
    manifest.save()
    launch.summary_due()
    return returns
