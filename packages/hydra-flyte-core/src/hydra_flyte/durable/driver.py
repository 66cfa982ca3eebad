"""The driver task of a detached sweep: runs every job of its plan as a child action and returns each job's outcome.

It runs on the cluster, in the jobs' image (which has hydra-flyte-core, as `apply_task_env` needs).
Each job is called inside its own group, `job-<n>`: the control plane lists the job's child action
under that group (how `status` maps actions to jobs while the sweep runs), and the SDK names the
child from the parent, the group, the task and its inputs. A driver retried by the control plane
(its pod lost) thus asks for the same child names again; the control plane answers with the
children that exist, and a child that already succeeded is not run again.

The output is JSON: one object per job, in job order, with `job`, `phase` (SUCCEEDED, FAILED,
ABORTED or TIMED_OUT), `value` (JSON-friendly, as the manifest keeps it) and `error`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any

import flyte

from hydra_flyte.settings_schema import DEFAULTS
from hydra_flyte.state.phases import ABORTED, FAILED, SUCCEEDED, TIMED_OUT

driver_env = flyte.TaskEnvironment(
    name="hydra_flyte_driver",
    resources=flyte.Resources(cpu=1, memory="1Gi"),
)

GROUP_PREFIX = "job-"


def job_group(job: int) -> str:
    """The group a job's child action runs in."""
    return f"{GROUP_PREFIX}{job}"


def job_of_group(group: str) -> int | None:
    """The job number of a group the driver made, else None."""
    if group.startswith(GROUP_PREFIX) and group[len(GROUP_PREFIX) :].isdigit():
        return int(group[len(GROUP_PREFIX) :])
    return None


def failure_phase(exc: BaseException) -> str:
    """The phase a child's error means: TIMED_OUT, ABORTED or FAILED."""
    name = type(exc).__name__.lower()
    if "timeout" in name or "timedout" in name:
        return TIMED_OUT
    if "abort" in name or isinstance(exc, asyncio.CancelledError):
        return ABORTED
    return FAILED


async def run_plan(jobs: list[Any], *, max_concurrency: int, fail_fast: bool) -> list[dict[str, Any]]:
    """Call every job's task (at most `max_concurrency` at once); one outcome per job, in job order."""
    from hydra_flyte.state.manifest import jsonable

    limit = asyncio.Semaphore(max_concurrency)
    outcomes: dict[int, dict[str, Any]] = {}
    stop = asyncio.Event()

    async def one(planned: Any) -> None:
        async with limit:
            if stop.is_set():
                outcomes[planned.job] = {
                    "job": planned.job, "phase": ABORTED, "value": None,
                    "error": "fail_fast: not started, another job of the sweep had failed",
                }  # fmt: skip
                return
            with flyte.group(job_group(planned.job)):
                try:
                    value = await planned.task.aio(*planned.args, **planned.kwargs)
                except asyncio.CancelledError as exc:
                    outcomes[planned.job] = {
                        "job": planned.job, "phase": ABORTED, "value": None,
                        "error": "fail_fast: aborted, another job of the sweep had failed" if stop.is_set() else str(exc),
                    }  # fmt: skip
                    return
                except Exception as exc:
                    outcomes[planned.job] = {
                        "job": planned.job, "phase": failure_phase(exc), "value": None,
                        "error": f"{type(exc).__name__}: {exc}",
                    }  # fmt: skip
                    if fail_fast:
                        stop.set()
                        for other in tasks:
                            if other is not asyncio.current_task():
                                other.cancel()
                    return
            outcomes[planned.job] = {
                "job": planned.job,
                "phase": SUCCEEDED,
                "value": jsonable(value),
                "error": None,
            }

    tasks = [asyncio.ensure_future(one(planned)) for planned in jobs]
    await asyncio.gather(*tasks, return_exceptions=True)
    for planned in jobs:  # a job cancelled while waiting for its turn
        outcomes.setdefault(
            planned.job,
            {"job": planned.job, "phase": ABORTED, "value": None,
             "error": "fail_fast: not started, another job of the sweep had failed"},
        )  # fmt: skip
    return [outcomes[planned.job] for planned in sorted(jobs, key=lambda p: p.job)]


@driver_env.task
async def sweep_driver(
    plan: str, max_concurrency: int = DEFAULTS["max_concurrency"], fail_fast: bool = False, only: str = ""
) -> str:
    """Run each job of `plan` (hydra_flyte.durable.plan) as a child action; every job's outcome as JSON.

    `only`: a JSON list of job numbers to run (a rerun of some jobs, with the same plan); empty runs all.
    """
    from hydra_flyte.durable.plan import decode

    jobs = decode(plan)
    if only:
        wanted = set(json.loads(only))
        jobs = [planned for planned in jobs if planned.job in wanted]
    print(f"hydra-flyte driver: {len(jobs)} jobs, at most {max_concurrency} at once", flush=True)
    outcomes = await run_plan(jobs, max_concurrency=max_concurrency, fail_fast=fail_fast)
    done = sum(1 for o in outcomes if o["phase"] == SUCCEEDED)
    print(f"hydra-flyte driver: {done} of {len(outcomes)} jobs succeeded", flush=True)
    return json.dumps(outcomes)


class InstalledTaskResolver:
    """Finds a driver task in its container by its module's import name, however hydra-flyte-core was installed.

    flyte's default resolver names a task by its file relative to the code bundle's root, or by its
    module name when the file is under site-packages; an editable install is neither. This one
    always names the task's module and attribute (imported from the image's hydra-flyte-core): the
    drivers here and in hydra_flyte.optuna.driver use it.
    """

    @property
    def import_path(self) -> str:
        return f"{__name__}.InstalledTaskResolver"

    def load_task(self, loader_args: list[str]) -> Any:
        _, module, _, name, *_ = loader_args
        return getattr(importlib.import_module(module), name)

    def loader_args(self, task: Any, root_dir: Any) -> list[str]:
        return ["mod", task.func.__module__, "instance", task.func.__name__]


sweep_driver.task_resolver = InstalledTaskResolver()
