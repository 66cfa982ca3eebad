"""Whose run is it? A run found under a name a sweep planned is that sweep's only if its labels say so.

Every run of a remote sweep carries `hydra-flyte-sweep=<sweep id>` and `hydra-flyte-job=<job>`.
When a CreateRun answers ALREADY_EXISTS for a planned name (our first attempt created the run but
its reply was lost, and the retry, the SDK's or ours, found it), the run is looked up: if its
labels name this sweep and job, it *is* the submission. Anything else under the name belongs to
someone else: it is never adopted, waited on, rerun or reported as this sweep's.

A single run given a name (no sweep) carries `hydra-flyte-submission=<token>`, a token of that
submission alone, and is adopted on ALREADY_EXISTS by the same rule.

An OK answer proves no more: the open-source control plane answers a CreateRun for a taken name
with OK and the run that holds the name (INSERT ... ON CONFLICT DO NOTHING). So every run a
CreateRun answers with is checked the same way (`confirm_created`) before it is recorded, waited on
or reported. The labels come with the answer (CreateRunResponse.run.labels): no extra request on
the happy path; a control plane that leaves them out costs one GetRunDetails per run.
"""

from __future__ import annotations

from typing import Any

from hydra_flyte.config.run_rules import JOB_LABEL, SUBMISSION_LABEL, SWEEP_LABEL
from hydra_flyte.errors import RunNameClashError
from hydra_flyte.remote.submission_pool import causes
from hydra_flyte.state.manifest import find_manifest


def _code_name(cause: BaseException) -> str:
    code = getattr(cause, "code", None)
    return str(getattr(code, "name", code) or "").lower()


def is_already_exists(exc: BaseException) -> bool:
    """True when a CreateRun was answered ALREADY_EXISTS (the ConnectError, or flyte's RunAlreadyExistsError)."""
    return any(_code_name(cause) in ("already_exists", "runalreadyexistserror") for cause in causes(exc))


def is_not_found(exc: BaseException) -> bool:
    """True when the control plane has no such run."""
    for cause in causes(exc):
        if _code_name(cause) == "not_found" or "notfound" in type(cause).__name__.lower():
            return True
        if "not found" in str(cause).lower():
            return True
    return False


def lookup(name: str | None) -> Any:
    """The run called `name` on the control plane, or None when there is none."""
    from flyte.remote import Run

    if not name:
        return None
    try:
        return Run.get(name=name)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def labels_of(run: Any) -> dict[str, str]:
    """The labels a run was created with (its run spec's, as GetRunDetails reports them)."""
    details = run.details()
    return dict(details.pb2.run_spec.labels.values)


def is_ours(labels: dict[str, str], *, sweep_id: str | None, job_num: int | None) -> bool:
    """Whether labels name this sweep and job."""
    return (
        sweep_id is not None
        and job_num is not None
        and labels.get(SWEEP_LABEL) == sweep_id
        and labels.get(JOB_LABEL) == str(job_num)
    )


def name_clash(
    run_name: str, labels: dict[str, str], *, sweep_id: str | None, job_num: int | None
) -> RunNameClashError:
    """The clash of `run_name`, owned by the run whose labels are `labels` (its sweep's manifest named when known)."""
    owner_sweep = labels.get(SWEEP_LABEL)
    return RunNameClashError(
        run_name,
        owner_sweep=owner_sweep,
        owner_job=labels.get(JOB_LABEL),
        owner_manifest=_manifest_of(owner_sweep) if owner_sweep else None,
        sweep_id=sweep_id,
        job_num=job_num,
    )


def _manifest_of(sweep_id: str) -> str | None:
    """Where that sweep's manifest is, when this machine recorded it."""
    try:
        return str(find_manifest(sweep_id))
    except (OSError, ValueError):
        return None


def check_ours(run: Any, *, sweep_id: str | None, job_num: int | None) -> Any:
    """`run` if it is this sweep's job; RunNameClashError naming its owner otherwise."""
    labels = labels_of(run)
    if not is_ours(labels, sweep_id=sweep_id, job_num=job_num):
        raise name_clash(run.name, labels, sweep_id=sweep_id, job_num=job_num)
    return run


def answered_labels(run: Any) -> dict[str, str]:
    """The labels of the run a CreateRun answered with: as the answer carries them, else from GetRunDetails."""
    carried = getattr(getattr(run, "pb2", None), "labels", None)
    if carried:
        return dict(carried)
    return labels_of(run)


def confirm_created(run: Any, *, sweep_id: str | None, job_num: int | None, token: str | None) -> Any:
    """`run`, which a CreateRun for a planned name answered with, if it is this submission's; else RunNameClashError.

    A sweep's job is recognised by its sweep and job labels, a single run by its submission `token`.
    """
    labels = answered_labels(run)
    if token is not None:
        ours = labels.get(SUBMISSION_LABEL) == token
    else:
        ours = is_ours(labels, sweep_id=sweep_id, job_num=job_num)
    if not ours:
        raise name_clash(run.name, labels, sweep_id=sweep_id, job_num=job_num)
    return run


def adopt_existing(name: str, exc: BaseException, *, sweep_id: str | None, job_num: int | None) -> Any:
    """After ALREADY_EXISTS for `name`: the run, if it is this sweep's job; else RunNameClashError.

    `exc` (the ALREADY_EXISTS) is re-raised when the run cannot be found after all.
    """
    run = lookup(name)
    if run is None:
        raise exc
    try:
        return check_ours(run, sweep_id=sweep_id, job_num=job_num)
    except RunNameClashError as clash:
        raise clash from exc


def adopt_submission(name: str, exc: BaseException, *, token: str) -> Any:
    """After ALREADY_EXISTS for a single run's `name`: the run, if it carries this submission's token.

    Another run under the name is RunNameClashError; `exc` is re-raised when there is no run after all.
    """
    run = lookup(name)
    if run is None:
        raise exc
    labels = labels_of(run)
    if labels.get(SUBMISSION_LABEL) != token:
        raise name_clash(run.name, labels, sweep_id=None, job_num=None) from exc
    return run
