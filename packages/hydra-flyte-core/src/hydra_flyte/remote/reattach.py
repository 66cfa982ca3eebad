"""Reattaching to a remote sweep from its manifest: `sweep_status` (phases, results) and `rerun_failed`.

Both work from the manifest alone, hours after the sweep was submitted and from another process:
the runs are looked up by the names the manifest recorded (`remote.abort` aborts them the same
way). A local sweep's manifest is complete when the sweep ends: `sweep_status` returns it as
recorded, and `rerun_failed` refuses it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from hydra_flyte.remote.contact import Contact
from hydra_flyte.settings_schema import DEFAULTS
from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import JobRecord, Manifest, find_manifest
from hydra_flyte.state.phases import NOT_SUBMITTED, PLANNED


def load_manifest(sweep: str | os.PathLike[str]) -> Manifest:
    """The manifest of `sweep`: a manifest path, a sweep directory or a sweep id."""
    from hydra_flyte.errors import ConfigurationError

    try:
        path = find_manifest(sweep)
    except FileNotFoundError as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        return Manifest.load(path)
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON, another format version, odd records
        raise ConfigurationError(
            f"{path} is not a hydra-flyte sweep manifest this version can read ({exc}); "
            "pass the flyte-sweep.json a sweep wrote."
        ) from exc


def local_rerun_message(manifest: Manifest) -> str:
    """Why a local sweep is not rerun, and what to do instead."""
    failed = [r.job for r in manifest.failed()]
    which = f" (failed: job {', '.join(map(str, failed))})" if failed else ""
    return (
        f"{manifest.path} is a local sweep{which}: its jobs ran on this machine, so there is no Flyte run to "
        "rerun from. Run the failed jobs again with the sweep's own command (with --local / mode=local and "
        "their overrides, listed by `flyte hydra status`), or run the sweep remotely to get reruns."
    )


def _lookup(record: JobRecord) -> Any:
    """The record's run on the control plane, or None if it was never created."""
    from hydra_flyte.remote.ownership import lookup

    return lookup(record.run_name)


def disown(manifest: Manifest, record: JobRecord, clash: BaseException) -> None:
    """The run under the record's name is another sweep's: no run of this job exists under it."""
    manifest.disowned(record.job, error=str(clash))


def _collect(manifest: Manifest, record: JobRecord, run: Any, *, wait: bool, contact: Contact) -> None:
    """Bring one record up to date from its run (waiting for it first if asked).

    A run whose labels do not name this sweep and job is never taken for the job's: the record
    becomes SUBMIT_FAILED, with an error naming the sweep that owns the name.
    """
    from hydra_flyte.errors import ContactLostError, RunFailedError, RunNameClashError
    from hydra_flyte.remote.ownership import check_ours
    from hydra_flyte.remote.submit import wait_for

    if run is None:
        if record.phase == PLANNED:
            manifest.finished(
                record.job,
                phase=NOT_SUBMITTED,
                error=f"the control plane has no run named {record.run_name}: never submitted "
                "(the sweep stopped first, or its submission failed)",
            )
        return
    try:
        check_ours(run, sweep_id=manifest.sweep_id, job_num=record.job)
    except RunNameClashError as clash:
        disown(manifest, record, clash)
        return
    if record.phase == PLANNED:
        manifest.submitted(record.job, run_name=run.name, url=run.url)
    if wait:
        try:
            result = wait_for(run, overrides=record.overrides, contact=contact)
        except ContactLostError as exc:  # we could not ask: unconfirmed, not failed
            manifest.finished(record.job, phase=ph.UNCONFIRMED, error=str(exc))
            raise
        except RunFailedError as exc:
            manifest.finished(record.job, phase=exc.phase, error=exc.message)
        else:
            manifest.finished(record.job, phase=ph.SUCCEEDED, value=result.value)
        return
    record_current(manifest, record, run, contact=contact)


def record_current(manifest: Manifest, record: JobRecord, run: Any, *, contact: Contact) -> None:
    """Record the phase the control plane gives `run` now: once it ended, its value or its error too."""
    from hydra_flyte.errors import RunFailedError
    from hydra_flyte.remote.submit import wait_for

    phase = ph.phase_name(run.phase)
    if ph.is_success(phase):
        manifest.finished(
            record.job,
            phase=ph.SUCCEEDED,
            value=wait_for(run, overrides=record.overrides, contact=contact).value,
        )
    elif ph.is_confirmed_terminal(phase):
        try:
            wait_for(run, contact=contact)
        except RunFailedError as exc:
            manifest.finished(record.job, phase=exc.phase, error=exc.message)
    else:
        manifest.phase_seen(record.job, phase)


def sweep_status(
    sweep: str | os.PathLike[str],
    *,
    wait: bool = False,
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
) -> Manifest:
    """Every job's current phase (and, once finished, its value or error), written back to the manifest.

    Every job not in a terminal phase the control plane confirmed is looked up again (PLANNED,
    SUBMITTED, QUEUED/RUNNING, UNCONFIRMED); SUCCEEDED, FAILED, ABORTED, TIMED_OUT, SUBMIT_FAILED
    and NOT_SUBMITTED are kept. With `wait=True`, waits for every unfinished run first. An
    unreachable control plane is retried for `reconnect_timeout_seconds`; then the jobs it could
    not confirm are recorded UNCONFIRMED and ContactLostError is raised. Needs the Flyte endpoint
    the sweep was submitted to (flyte.init / the default Flyte config). A local sweep's manifest is
    returned as recorded, with no control plane contacted.
    """
    from hydra_flyte.remote.submit import ensure_endpoint

    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        return manifest
    ensure_endpoint()
    if manifest.driver:  # a detached sweep: its jobs are child actions of one driver run
        return refresh_detached(manifest, wait=wait, contact=Contact(reconnect_timeout_seconds))
    return _refresh(
        manifest, wait=wait, wait_max_workers=wait_max_workers, contact=Contact(reconnect_timeout_seconds)
    )


def refresh_detached(manifest: Manifest, *, wait: bool, contact: Contact) -> Manifest:
    """A detached sweep's jobs from its driver run (hydra_flyte.durable.status); the manifest saved."""
    from hydra_flyte.durable.status import refresh

    if not any(ph.needs_refresh(r.phase) for r in manifest.records()):
        return manifest
    refresh(manifest, wait=wait, call=contact.call)
    return manifest


def _refresh(manifest: Manifest, *, wait: bool, wait_max_workers: int | None, contact: Contact) -> Manifest:
    """Update every unfinished record from the control plane, concurrently; save the manifest."""
    open_records = [r for r in manifest.records() if ph.needs_refresh(r.phase)]

    def update(record: JobRecord) -> None:
        run = contact.call(lambda: _lookup(record), what=f"looking up run {record.run_name}")
        _collect(manifest, record, run, wait=wait, contact=contact)

    workers = max(1, min(len(open_records), wait_max_workers or len(open_records) or 1))
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=drain, args=(update, open_records[n::workers], errors), daemon=True)
        for n in range(workers)
    ]
    try:  # daemon threads: a Ctrl-C here returns at once (the runs go on), the manifest is saved
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    finally:
        manifest.save()
    if errors:  # e.g. the control plane is unreachable: the caller learns why
        raise errors[0]
    return manifest


def drain(update: Any, records: Sequence[JobRecord], errors: list[BaseException]) -> None:
    """Update each record in turn; the first error stops this worker and is kept for the caller."""
    try:
        for record in records:
            update(record)
    except Exception as exc:
        errors.append(exc)


def _rerun(manifest: Manifest, record: JobRecord) -> Any:
    """A new run of the record's failed run (None when that run is not this sweep's job).

    The failed run is looked up first: one whose labels name another sweep is never rerun (the
    record becomes SUBMIT_FAILED). An ALREADY_EXISTS for the new run's name is our own earlier
    attempt when its labels say so (its reply was lost), and is kept as the rerun.
    """
    import flyte

    from hydra_flyte.config.run_rules import JOB_LABEL, SWEEP_LABEL
    from hydra_flyte.errors import RunNameClashError
    from hydra_flyte.remote.ownership import adopt_existing, check_ours, confirm_created, is_already_exists
    from hydra_flyte.remote.submission_pool import call_with_retries

    source = _lookup(record)
    if source is None:
        print(
            f"job {record.job} not rerun: the control plane has no run named {record.run_name}.",
            file=sys.stderr,
            flush=True,
        )
        return None
    try:
        check_ours(source, sweep_id=manifest.sweep_id, job_num=record.job)
    except RunNameClashError as clash:
        disown(manifest, record, clash)
        print(f"job {record.job} not rerun: {clash}", file=sys.stderr, flush=True)
        return None
    labels = {**manifest.labels, SWEEP_LABEL: manifest.sweep_id, JOB_LABEL: str(record.job)}
    new_name = rerun_name(record)
    runner = flyte.with_runcontext(mode="remote", name=new_name, labels=labels)

    def start() -> Any:
        try:
            run = runner.rerun(record.run_name)
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            return adopt_existing(new_name, exc, sweep_id=manifest.sweep_id, job_num=record.job)
        # An OK may carry a run that held the name already (the open-source control plane): ours only by its labels.
        return confirm_created(run, sweep_id=manifest.sweep_id, job_num=record.job, token=None)

    return call_with_retries(start)


def rerun_name(record: JobRecord) -> str:
    """`<first run's name>-r<attempt>`: stable across reruns, unique per attempt."""
    from hydra_flyte.config.run_rules import attempt_run_name

    first = record.attempts[0]["run_name"] if record.attempts else record.run_name
    return attempt_run_name(first or f"job-{record.job}", len(record.attempts) + 1)


def check_new_attempts(manifest: Manifest, names: dict[int, str]) -> None:
    """The run names of the jobs' new attempts (`--resume`, `rerun --failed`) and the sweep's labels, before any is sent."""
    from hydra_flyte.config.run_rules import JOB_LABEL, SWEEP_LABEL, check_metadata, check_run_name

    labels = {SWEEP_LABEL: manifest.sweep_id, JOB_LABEL: str(max(names, default=0))}
    check_metadata({"labels": manifest.labels}, labels=labels, where="every job's run", sweep=True)
    for job, name in sorted(names.items()):
        check_run_name(
            name,
            where=f"job {job}'s new attempt",
            fix=(
                "a new attempt is named after the job's first run (<its name>-r<attempt>), which leaves no room "
                "here: start a new sweep instead, with a shorter name (--name, run_options['name']) or none"
            ),
            sweep=True,
        )


def rerun_failed(
    sweep: str | os.PathLike[str],
    *,
    wait: bool = True,
    wait_max_workers: int | None = DEFAULTS["wait_max_workers"],
    jobs: Sequence[int] | None = None,
    reconnect_timeout_seconds: float = DEFAULTS["reconnect_timeout_seconds"],
) -> Manifest:
    """Submit again the jobs that failed or were aborted, with the very inputs their runs had.

    Each failed run is re-run by Flyte from its own recorded task and inputs (so the composed
    config and task arguments are exactly the same), as a new run recorded in the same manifest;
    the old run moves to the job's `attempts`. With `wait=True` the new runs are waited on and
    their results collected. A local sweep has no runs to rerun from: ConfigurationError.
    """
    from hydra_flyte.errors import ConfigurationError, RunNameClashError
    from hydra_flyte.remote.submit import ensure_endpoint

    manifest = load_manifest(sweep)
    if manifest.mode == "local":
        raise ConfigurationError(local_rerun_message(manifest))
    ensure_endpoint()
    if manifest.driver:
        from hydra_flyte.durable.rerun import rerun_detached

        rerun_detached(manifest, jobs=jobs)
        if wait:
            return refresh_detached(manifest, wait=True, contact=Contact(reconnect_timeout_seconds))
        manifest.save()
        return manifest
    # Only runs the control plane says failed; refused or never submitted jobs have no run to
    # rerun from (`--resume` submits those anew).
    wanted = [r for r in manifest.records() if ph.is_rerunnable_failure(r.phase) and r.run_name]
    if jobs is not None:
        wanted = [r for r in wanted if r.job in set(jobs)]
    check_new_attempts(manifest, {r.job: rerun_name(r) for r in wanted})  # before the first is sent
    for record in wanted:
        try:
            run = _rerun(manifest, record)
        except RunNameClashError as clash:
            print(f"job {record.job} not rerun: {clash}", file=sys.stderr, flush=True)
            continue
        if run is None:
            continue
        print(
            f"Resubmitted job {record.job} ({' '.join(record.overrides)}): {run.url}",
            file=sys.stderr,
            flush=True,
        )
        manifest.resubmitted(record.job, run_name=run.name, url=run.url)
    if wait:
        return _refresh(
            manifest, wait=True, wait_max_workers=wait_max_workers, contact=Contact(reconnect_timeout_seconds)
        )
    manifest.save()
    return manifest
