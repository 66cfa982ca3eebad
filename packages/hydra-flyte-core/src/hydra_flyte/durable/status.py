"""A detached sweep's state read from the control plane: each job's child action while the driver runs, every outcome once it ends.

The control plane is the source of truth: while the driver runs, each job's phase is its child
action's (listed under the job's group); once the driver ends, its output gives every job's
phase, value and error. A driver that ended without output (its run failed or was aborted) leaves
each job with its child action's phase (a value only the driver's output gives), or the driver's
phase for a job that had not finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from hydra_flyte.durable.driver import job_of_group
from hydra_flyte.state.manifest import Manifest
from hydra_flyte.state.phases import CONFIRMED_TERMINAL, FAILED, SUCCEEDED, is_success, phase_name

#: How often a waiting reader looks at the driver's children (a poll: one ListActions, one GetRun).
POLL_SECONDS = 1.0


def child_actions(run_name: str) -> dict[int, Any]:
    """Each job's child action in the driver run `run_name` (flyte.remote.Action), by job number."""
    from flyte.remote import Action

    found: dict[int, Any] = {}
    for action in Action.listall(for_run_name=run_name):
        meta = action.pb2.metadata
        job = job_of_group(meta.group)
        if job is None or not meta.parent:
            continue
        found[job] = action  # (listed oldest first: a later action of the job wins)
    return found


def driver_output(run: Any) -> Any:
    """What a succeeded driver run returned: a list of outcomes, or a dict with its `outcomes` and more."""
    outputs = tuple(run.outputs())
    return json.loads(outputs[0])


def driver_outcomes(run: Any) -> list[dict[str, Any]]:
    """The outcomes a succeeded driver run returned (one dict per job)."""
    output = driver_output(run)
    return list(output["outcomes"] if isinstance(output, dict) else output)


def _run_end_hook(manifest: Manifest, output: Any) -> None:
    """The driver record's `on_end` ("module.function"): told the manifest and the driver's output once it ended.

    A driver that asks its jobs itself (hydra_flyte.optuna.driver) records what only its output says
    (each job's overrides, the study); named by dotted path, as the driver record is read by any process.
    """
    target = (manifest.driver or {}).get("on_end")
    if not target:
        return
    import importlib

    module, _, name = str(target).rpartition(".")
    getattr(importlib.import_module(module), name)(manifest, output)


def _confirm_driver(manifest: Manifest, ask: Callable[[Callable[[], Any], str], Any]) -> bool:
    """A driver run named on disk but never confirmed (the answer lost, or the process killed): look it up.

    Ours if its sweep label names this sweep: recorded as created. Not there: the sweep was never
    submitted (NOT_SUBMITTED). Another's: no run of ours under the name (SUBMIT_FAILED).
    """
    from hydra_flyte.config.run_rules import SWEEP_LABEL
    from hydra_flyte.remote.ownership import labels_of, lookup, name_clash
    from hydra_flyte.state.phases import NOT_SUBMITTED, PLANNED

    driver = dict(manifest.driver or {})
    name = str(driver["run_name"])
    run = ask(lambda: lookup(name), f"looking up the driver run {name}")
    planned = [num for num, record in manifest.jobs.items() if record.phase == PLANNED]
    if run is None:
        for num in planned:
            manifest.finished(
                num, phase=NOT_SUBMITTED,
                error=f"the control plane has no driver run {name}: the sweep was never submitted (run it again)",
            )  # fmt: skip
        return False
    labels = ask(lambda: labels_of(run), f"reading the labels of the driver run {name}")
    if labels.get(SWEEP_LABEL) != manifest.sweep_id:
        clash = name_clash(name, labels, sweep_id=manifest.sweep_id, job_num=None)
        for num in planned:
            manifest.disowned(num, error=str(clash))
        return False
    extra = {k: v for k, v in driver.items() if k not in ("run_name", "url", "max_concurrency")}
    manifest.driven_by(run_name=name, url=run.url, max_concurrency=driver.get("max_concurrency"), extra=extra)
    return True


def refresh(
    manifest: Manifest,
    *,
    wait: bool,
    call: Callable[..., Any] | None = None,
    on_change: Callable[[int, str], None] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> Any:
    """Bring a detached sweep's manifest up to date from its driver run; with `wait`, until the driver ends.

    `call(fn, what=...)`: how each request is made (a Contact's retrying call); `on_change(job, phase)`
    is told each job's new phase. Returns the driver run (flyte.remote.Run), or None when the driver
    run was never confirmed and is not there (or is not this sweep's): its jobs are then settled.
    """
    from flyte.remote import Run

    def ask(fn: Callable[[], Any], what: str) -> Any:
        return call(fn, what=what) if call is not None else fn()

    driver = manifest.driver or {}
    name = str(driver["run_name"])
    if driver.get("url") is None and not _confirm_driver(manifest, ask):
        manifest.save()
        return None
    while True:
        run = ask(lambda: Run.get(name=name), f"reading the phase of the driver run {name}")
        done = run.done()
        children = ask(lambda: child_actions(name), f"listing the child actions of {name}")
        for job, action in children.items():
            record = manifest.jobs.get(job)
            if record is None or record.run_name != name:
                continue
            if record.phase in CONFIRMED_TERMINAL and record.action == action.name:
                continue
            phase = phase_name(action.phase)
            if phase != record.phase or record.action != action.name:
                # The value comes with the driver's output, when it ends.
                manifest.child_seen(job, phase=phase, action=action.name)
                if on_change is not None:
                    on_change(job, phase)
        if done or not wait:
            break
        time.sleep(poll_seconds)
    if done:
        _record_end(manifest, run, children)
    manifest.save()
    return run


def _record_end(manifest: Manifest, run: Any, children: dict[int, Any]) -> None:
    """The driver ended: every job's outcome from its output, or from its child action when there is none."""
    phase = phase_name(run.phase)
    if is_success(phase):
        output = driver_output(run)
        for outcome in output["outcomes"] if isinstance(output, dict) else output:
            job = int(outcome["job"])
            if job in manifest.jobs and manifest.jobs[job].run_name == run.name:
                manifest.finished(
                    job, phase=outcome["phase"], value=outcome.get("value"), error=outcome.get("error")
                )
        _run_end_hook(manifest, output)
        return
    for job, record in manifest.jobs.items():
        if record.run_name != run.name:  # a job of an earlier driver run, not rerun in this one
            continue
        action = children.get(job)
        child_phase = phase_name(action.phase) if action is not None else None
        if child_phase in CONFIRMED_TERMINAL:
            error = (
                f"its value was not read: the driver run {run.name} ended {phase}"
                if child_phase == SUCCEEDED
                else f"child action {action.name} ended {child_phase}"
            )
            manifest.finished(job, phase=child_phase, error=error)
        elif record.phase != SUCCEEDED:
            manifest.finished(
                job, phase=phase if phase in CONFIRMED_TERMINAL else FAILED,
                error=f"the sweep's driver run {run.name} ended {phase} before this job finished",
            )  # fmt: skip
