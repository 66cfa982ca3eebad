"""`--resume`: finish a sweep from its manifest, asking the control plane what became of each job.

`flyte hydra run ... --resume SWEEP`, `hydra.launcher.resume=SWEEP` and `hydra_sweep(...,
resume=SWEEP)` run the same sweep again with the manifest's identity (sweep id, run names, sweep
directory). The sweeper composes the same jobs; each is checked against the manifest, then:

- SUCCEEDED: kept, not resubmitted; its run is looked up and its value reported as if it had run;
- PLANNED: looked up by its planned name: a run of ours is waited on, no run is submitted under
  that very name (so a resume killed in turn, resumed again, still makes one run per job);
- SUBMITTED, QUEUED, RUNNING, ..., UNCONFIRMED: looked up and waited on;
- FAILED, ABORTED, TIMED_OUT, SUBMIT_FAILED, NOT_SUBMITTED: submitted anew as a new attempt
  `<first run name>-r<k>` (planned on disk before it is submitted; the previous attempt moves to
  the record's `attempts`, as `rerun --failed` does).

A run found under a job's name is used only if its labels say it is this sweep's job
(`hydra-flyte-sweep=<sweep id>`, `hydra-flyte-job=<n>`); any other run is never waited on or
reported, and the job gets a new attempt.

hydra/sweeper=optuna_async resumes from its study's storage instead of composing the jobs again:
hydra_flyte.optuna.resume finds the trials still open and hands their jobs to `plan` (failed runs
are used as they are, not run again).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra_flyte.errors import ConfigurationError
from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import JobRecord, Manifest

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
OPTUNA_ASYNC_SWEEPER = "hydra_plugins.hydra_flyte_optuna_async._sweeper.OptunaAsyncSweeper"
#: Sweepers whose jobs are the same, in the same order, every time the sweep is composed again.
RESUMABLE_SWEEPERS = {BASIC_SWEEPER}
#: Sweepers that resume a sweep themselves (from their own state), through this module's `plan`.
SELF_RESUMING_SWEEPERS = {OPTUNA_ASYNC_SWEEPER}


def _same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(os.fspath(a)) == os.path.realpath(os.fspath(b))


def prepare(config: Any, settings: Any) -> Manifest:
    """Check that the sweep can resume `settings.resume`, point it at the manifest's directory; the manifest.

    Called when the launcher is set up: before the sweeper saves `multirun.yaml` or composes a job.
    """
    from omegaconf import open_dict, read_write

    from hydra_flyte.remote.reattach import load_manifest

    sweep = settings.resume
    if settings.mode != "remote" or settings.dry_run:
        what = "a dry run" if settings.dry_run else "a local sweep"
        raise ConfigurationError(
            f"resume={sweep!r} finishes a remote sweep from its manifest, but this is {what}: drop the resume "
            "option (--resume / hydra.launcher.resume / resume=), or run remotely."
        )
    target = str(config.hydra.sweeper.get("_target_", ""))
    if target == OPTUNA_ASYNC_SWEEPER and config.hydra.sweeper.get("storage") in (None, ""):
        raise ConfigurationError(
            f"resume={sweep!r}: hydra/sweeper=optuna_async resumes a study from its storage, and "
            "hydra.sweeper.storage is not set (the study lived in memory, in the process that ran it). Set "
            "hydra.sweeper.storage (e.g. hydra.sweeper.storage=sqlite:///study.db) to the storage the sweep "
            f"was started with; a sweep started without one cannot resume: `flyte hydra status {sweep} --wait` "
            "collects the runs it submitted."
        )
    if target not in RESUMABLE_SWEEPERS | SELF_RESUMING_SWEEPERS:
        raise ConfigurationError(
            f"the sweeper {target} cannot resume a sweep: resuming relies on composing the very same jobs in the "
            "same order again, which Hydra's basic (grid) sweeper does, and a sampling sweeper does not (it would "
            "choose new trials). Drop the resume option and start a new sweep, or use `flyte hydra status "
            f"{sweep} --wait` to collect the runs this sweep already submitted."
        )
    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        raise ConfigurationError(
            f"resume={sweep!r} is a local sweep's manifest: its jobs ran on this machine and left no runs to "
            "look up, so it cannot be resumed. Run the sweep again (locally or remotely) without the resume option."
        )
    manifest.path = manifest.path.resolve()
    directory = manifest.path.parent
    given = [
        str(o).partition("=")[2]
        for o in (config.hydra.overrides.get("hydra") or [])
        if str(o).partition("=")[0].lstrip("+") == "hydra.sweep.dir"
    ]
    if given and not _same_path(given[-1], directory):
        raise ConfigurationError(
            f"resume={sweep!r} is the sweep in {directory}, but hydra.sweep.dir={given[-1]} points elsewhere: a "
            f"resumed sweep keeps its directory. Drop hydra.sweep.dir, or set hydra.sweep.dir={directory}."
        )
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(directory)
    return manifest


def check_jobs(
    manifest: Manifest, numbered: Sequence[tuple[int, Sequence[str]]], *, whole_sweep: bool
) -> None:
    """The jobs composed now must be the manifest's: the first that differs is named."""
    sweep = manifest.path
    for num, overrides in numbered:
        record = manifest.jobs.get(num)
        if record is None:
            raise ConfigurationError(
                f"cannot resume {sweep}: this sweep composes job {num} [{' '.join(overrides) or 'no overrides'}], "
                f"which the manifest does not have (it has {len(manifest.jobs)} jobs). Resume with the command "
                "the sweep was started with, or start a new sweep in another directory."
            )
        if list(record.overrides) != list(overrides):
            raise ConfigurationError(
                f"cannot resume {sweep}: job {num} differs: the manifest has [{' '.join(record.overrides) or 'no overrides'}], "
                f"this sweep composes [{' '.join(overrides) or 'no overrides'}]. Resume with the overrides the sweep "
                "was started with, or start a new sweep in another directory."
            )
    if whole_sweep and len(numbered) != len(manifest.jobs):
        missing = sorted(set(manifest.jobs) - {num for num, _ in numbered})
        first = manifest.jobs[missing[0]]
        raise ConfigurationError(
            f"cannot resume {sweep}: this sweep composes {len(numbered)} jobs, the manifest has {len(manifest.jobs)}; "
            f"job {first.job} [{' '.join(first.overrides) or 'no overrides'}] is not composed now. Resume with the "
            "overrides the sweep was started with."
        )


def is_ours(run: Any, sweep_id: str, job: int) -> bool:
    """A run belongs to this sweep's job only if its labels say so (see remote.ownership)."""
    from hydra_flyte.remote.ownership import is_ours as labels_are_ours
    from hydra_flyte.remote.ownership import labels_of

    return labels_are_ours(labels_of(run), sweep_id=sweep_id, job_num=job)


class Resumed:
    """What the launcher needs per job: an existing run to use instead of submitting, or nothing."""

    def __init__(self) -> None:
        self.existing: dict[int, Any] = {}  # job -> a Run of ours, or the RunResult the manifest kept
        self.kept = self.waited = self.submitted = self.new_attempts = 0

    def summary(self, manifest: Manifest) -> str:
        return (
            f"Resuming sweep {manifest.sweep_id} ({manifest.path}): {self.kept} succeeded (kept), "
            f"{self.waited} waited on, {self.submitted} submitted under their planned names, "
            f"{self.new_attempts} submitted as new attempts"
        )


def plan(
    manifest: Manifest,
    numbered: Sequence[tuple[int, Sequence[str]]],
    *,
    max_workers: int | None,
    rerun_failures: bool = True,
) -> Resumed:
    """Look every job up on the control plane (concurrently) and plan the new attempts on disk.

    With `rerun_failures=False` a job whose run failed (FAILED, ABORTED, TIMED_OUT) is looked up
    and its run used as it is (optuna_async tells such a trial as failed; it does not run it again).
    """
    from hydra_flyte.remote.reattach import rerun_name
    from hydra_flyte.results import RunResult

    resumed = Resumed()
    records = [manifest.jobs[num] for num, _ in numbered]

    def new_attempt(phase: str) -> bool:
        if rerun_failures:
            return ph.needs_new_attempt_on_resume(phase)
        return ph.is_never_ran(phase)

    to_look_up = [r for r in records if r.run_name and not new_attempt(r.phase)]
    found: dict[int, Any] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    from hydra_flyte.remote.ownership import lookup

    def look(record: JobRecord) -> None:
        run = lookup(record.run_name)
        with lock:
            found[record.job] = run

    _concurrently(look, to_look_up, max_workers=max_workers or 16, errors=errors)
    if errors:  # the control plane could not say: nothing is submitted on a guess
        raise errors[0]

    new_names: dict[int, str] = {}
    reasons: dict[int, tuple[str, str]] = {}  # job -> what its previous attempt is recorded as
    for record in records:
        if new_attempt(record.phase) or not record.run_name:
            new_names[record.job] = rerun_name(record)
            continue
        run = found.get(record.job)
        if run is not None and not is_ours(run, manifest.sweep_id, record.job):
            reasons[record.job] = (
                ph.SUBMIT_FAILED,
                f"run {record.run_name} on the control plane is not this sweep's job {record.job} (its labels "
                "name another sweep): left alone",
            )
            new_names[record.job] = rerun_name(record)
        elif run is not None:
            resumed.existing[record.job] = run
            if ph.is_success(record.phase):
                resumed.kept += 1
            else:
                resumed.waited += 1
        elif ph.is_success(record.phase):  # confirmed earlier, gone from the control plane since
            resumed.existing[record.job] = RunResult(
                (record.value,), url=record.url, name=record.run_name, overrides=tuple(record.overrides)
            )
            resumed.kept += 1
        elif record.phase == ph.PLANNED:
            resumed.submitted += 1  # never reached the control plane: submitted under its planned name
        else:  # recorded as submitted, but the control plane has no such run
            reasons[record.job] = (ph.NOT_SUBMITTED, f"run {record.run_name} not found on the control plane")
            new_names[record.job] = rerun_name(record)
    resumed.new_attempts = len(new_names)
    from hydra_flyte.config.validation import compact
    from hydra_flyte.errors import HydraFlyteError
    from hydra_flyte.remote.reattach import check_new_attempts

    # Every name this resume may send (new attempts, and planned names never sent), before any is.
    try:
        check_new_attempts(
            manifest,
            {**{r.job: r.run_name for r in records if r.phase == ph.PLANNED and r.run_name}, **new_names},
        )
    except HydraFlyteError as exc:
        raise compact(exc) from None
    if new_names:
        manifest.new_attempts(new_names, previous=reasons)
    return resumed


def _concurrently(
    function: Any, items: Sequence[Any], *, max_workers: int, errors: list[BaseException]
) -> None:
    if not items:
        return
    workers = max(1, min(max_workers, len(items)))

    def drain(chunk: Sequence[Any]) -> None:
        try:
            for item in chunk:
                function(item)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(items[n::workers],), daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)


def sweep_dir_of(manifest: Manifest) -> Path:
    return manifest.path.parent


def resume_batch(config: Any, manifest: Manifest, numbered: Any, initial_job_idx: int, settings: Any) -> Any:
    """For FlyteLauncher: check this batch against the manifest, look its jobs up, plan their new attempts."""
    import sys

    from hydra_flyte.config.validation import compact
    from hydra_flyte.errors import HydraFlyteError
    from hydra_flyte.remote.submit import ensure_endpoint

    sweeper = config.hydra.sweeper
    whole = initial_job_idx == 0 and sweeper.get("max_batch_size") is None
    try:
        check_jobs(manifest, numbered, whole_sweep=whole)
        ensure_endpoint()
    except HydraFlyteError as exc:
        raise compact(exc) from None
    resumed = plan(manifest, numbered, max_workers=settings.submit_max_workers)
    print(resumed.summary(manifest), file=sys.stderr, flush=True)
    return resumed
