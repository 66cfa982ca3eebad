"""The submitting side of a detached sweep: every job's run collected, then one driver run created for all of them.

The launch composes and checks every job as for an attached sweep; each job's task function asks
for its run as usual, and `DetachedJobs` (the launch's submission pool for a detached sweep) keeps
the task (with its task_env overrides) and inputs instead of submitting. Once every job is valid,
`submit_driver` creates one run of the driver task (`hydra_flyte.durable.driver`) whose plan holds
them all: its name is the sweep's (the `--name` given, or the sweep id), its ownership is checked
as a single named run's is (`remote.submit`), and the manifest records every job as submitted in it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hydra_flyte.durable.plan import PlannedJob, encode
from hydra_flyte.errors import ConfigurationError

if TYPE_CHECKING:
    from hydra_flyte.remote.submit import JobSpec
    from hydra_flyte.settings_schema import LaunchSettings
    from hydra_flyte.state.manifest import Manifest


class DetachedRun:
    """What a detached job's `flyte.run` returns in its task function: the job's place in the driver run.

    `name` and `url` are the driver run's once it is created (None before).
    """

    def __init__(self, job: PlannedJob) -> None:
        self.job = job
        self.name: str | None = None
        self.url: str | None = None

    def __repr__(self) -> str:
        return f"DetachedRun(job={self.job.job}, driver={self.name!r})"


class DetachedJobs:
    """A detached launch's submission pool: keeps each job's task and inputs; `submit_driver` sends them as one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: list[PlannedJob] = []
        self.runs: list[DetachedRun] = []

    def collect(self, task: Any, args: Sequence[Any], kwargs: dict[str, Any], job: JobSpec) -> DetachedRun:
        """Keep one job's run (its task, task_env applied, and inputs) for the driver."""
        check_image(task)
        planned = PlannedJob(
            job=job.job_num if job.job_num is not None else 0,
            overrides=tuple(job.overrides),
            task=task,
            args=tuple(args),
            kwargs=dict(kwargs),
        )
        run = DetachedRun(planned)
        with self._lock:
            if any(p.job == planned.job for p in self.jobs):
                raise ConfigurationError(
                    f"job {planned.job} calls flyte.run more than once: a detached sweep runs one task per job. "
                    "Call the other tasks from inside your task (they become its own child actions), or drop --detach."
                )
            self.jobs.append(planned)
            self.runs.append(run)
        return run

    def __len__(self) -> int:
        return len(self.jobs)

    def cancel(self, reason: BaseException) -> None:
        """Nothing was sent: drop what was collected."""
        with self._lock:
            self.jobs.clear()
            self.runs.clear()

    def release(self) -> None:
        """Nothing to do here: `submit_driver` sends the jobs once, as one run."""

    def halt(self, reason: BaseException) -> None:
        """Nothing is in flight."""


def driver_run_name(settings: LaunchSettings, sweep_id: str) -> str:
    """The driver run's name: the sweep's own (`--name` as given, else the sweep id)."""
    return str(settings.run_options.get("name") or sweep_id)


def check_image(task: Any) -> None:
    """The driver runs in the job's task image: refuse, before anything is sent, an image that cannot have core.

    A prebuilt image (a URI) is the user's word; an image flyte builds (flyte's base image, or any image
    with layers added) must install hydra-flyte-core: a pip layer naming it, or a requirements /
    project layer that may.
    """
    image = getattr(task, "image", None)
    if image is None or (isinstance(image, str) and image != "auto"):
        return
    described = repr(image)
    if any(mark in described for mark in ("hydra-flyte-core", "hydra_flyte_core", "Requirements", "Project")):
        return
    base = str(getattr(image, "base_image", "") or "")
    if base and not base.startswith("ghcr.io/flyteorg/") and "_layers=()" in described:
        return  # a prebuilt image given by its URI, nothing added: the user's word
    where = getattr(task, "parent_env_name", None) or getattr(task, "name", "the task")
    raise ConfigurationError(
        f"detach: the sweep's driver runs in the image of {where}, and that image ({described[:120]}) does not "
        "install hydra-flyte-core. Add it, e.g. image=flyte.Image.from_debian_base().with_pip_packages("
        '"hydra-flyte-core"), or give a prebuilt image that has it; or drop --detach.'
    )


def submit_driver(
    detached: DetachedJobs,
    *,
    settings: LaunchSettings,
    manifest: Manifest,
    name: str | None = None,
    task: Any = None,
    inputs: dict[str, Any] | None = None,
    max_concurrency: int | None = None,
    record: dict[str, Any] | None = None,
) -> Any:
    """Create the one driver run for every collected job; record it in the manifest; return flyte's Run.

    `task`, `inputs`, `max_concurrency` and `record` (kept in the manifest's `driver`) are another
    driver's (hydra_flyte.optuna.driver), when given; by default the run is `sweep_driver`'s.
    """
    from hydra_flyte.config.run_rules import SWEEP_LABEL
    from hydra_flyte.durable.driver import sweep_driver
    from hydra_flyte.remote.submit import JobSpec, submit

    name = name or driver_run_name(settings, manifest.sweep_id)
    options = dict(settings.run_options)
    options["name"] = name
    options["labels"] = {**(options.get("labels") or {}), SWEEP_LABEL: manifest.sweep_id}
    driver_settings = dataclasses.replace(settings, run_options=options, detach=False)
    driver = sweep_driver if task is None else task
    image = getattr(detached.jobs[0].task, "image", None) if detached.jobs else None
    if image is not None and image != "auto":
        driver = dataclasses.replace(driver, image=image)  # the jobs' image: it has core
    jobs = sorted(detached.jobs, key=lambda j: j.job)
    if inputs is None:
        inputs = {
            "plan": encode(jobs),
            "max_concurrency": settings.max_concurrency,
            "fail_fast": settings.fail_fast,
        }
    limit = settings.max_concurrency if max_concurrency is None else max_concurrency
    run = submit(
        driver,
        (),
        inputs,
        JobSpec(
            settings=driver_settings,
            overrides=(f"detached sweep of {len(manifest.jobs) or len(jobs)} jobs",),
            # The driver's name on disk before it is sent: a lost answer or a kill leaves it to look up.
            before_send=lambda: manifest.driver_planned(run_name=name, max_concurrency=limit, extra=record),
        ),
    )
    manifest.driven_by(run_name=run.name, url=run.url, max_concurrency=limit, extra=record)
    for placeholder in detached.runs:
        placeholder.name, placeholder.url = run.name, run.url
    return run
