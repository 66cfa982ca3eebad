"""Submitting one job's run to Flyte (local or remote) and waiting for runs to finish."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra_flyte.errors import (
    ConfigurationError,
    HydraFlyteError,
    NoEndpointError,
    RunFailedError,
    RunNameClashError,
)
from hydra_flyte.remote.capacity import Capacity
from hydra_flyte.remote.contact import DEFAULT_RECONNECT_TIMEOUT_SECONDS, Contact
from hydra_flyte.remote.ownership import adopt_existing, adopt_submission, confirm_created, is_already_exists
from hydra_flyte.remote.submission_pool import PendingRun, SubmissionPool, call_with_retries
from hydra_flyte.results import RunResult
from hydra_flyte.settings_schema import (  # noqa: F401 - the engine's settings, re-exported where the engine reads them
    MODES,
    LaunchSettings,
    settings_from_config,
    validate_max_workers,
    validate_mode,
    validate_reconnect_timeout,
)
from hydra_flyte.state.phases import FAILED, is_success, phase_name


@dataclass(frozen=True)
class JobSpec:
    """One job: its settings, its number within a sweep (None for a single run) and its overrides."""

    settings: LaunchSettings
    job_num: int | None = None
    overrides: Sequence[str] = ()
    # When set, remote submissions go through this pool and `submit` returns a PendingRun.
    pool: SubmissionPool | None = field(default=None, compare=False, repr=False)
    # The sweep this job belongs to (remote sweeps): names its run and labels it.
    sweep_id: str | None = None
    # Called with the submitted run (after its URL is printed), e.g. to record it in the manifest.
    on_submitted: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)
    # The run name the sweep manifest planned for this job (a resumed job's new attempt has its own).
    planned_name: str | None = None
    # A resumed job's run (of this sweep, on the control plane) or kept result: used instead of submitting.
    existing: Any = field(default=None, compare=False, repr=False)
    # Called before the run is sent (a launch records its planned name if not yet recorded).
    before_send: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    # Which `flyte.run` of the job's task function this is (1 for the first; later ones get their own name).
    call: int = 1

    @property
    def label(self) -> str:
        return " ".join(self.overrides) or "no overrides"


def run_name(job: JobSpec) -> str | None:
    """The run name for a job: `name` as given for a single run, `<name or sweep id>-<job number>` in a sweep."""
    from hydra_flyte.config.run_rules import job_run_name

    name = job.settings.run_options.get("name") or job.sweep_id
    if not name:
        return None
    return job_run_name(str(name), job.job_num, job.call)


def run_labels(job: JobSpec) -> dict[str, str]:
    """The labels of a job's run: the run options' labels, plus the sweep id and job number in a sweep."""
    from hydra_flyte.config.run_rules import JOB_LABEL, SWEEP_LABEL

    labels = {str(k): str(v) for k, v in (job.settings.run_options.get("labels") or {}).items()}
    if job.sweep_id is not None and job.job_num is not None:
        labels.update({SWEEP_LABEL: job.sweep_id, JOB_LABEL: str(job.job_num)})
    return labels


def ensure_endpoint() -> None:
    """Make sure a Flyte client is configured for remote runs (reading the default config if needed) and
    that its endpoint accepts connections."""
    import flyte

    from hydra_flyte.compat.flyte_private import configured_endpoint
    from hydra_flyte.config.validation import probe_endpoint

    if not flyte.is_control_plane_available():
        try:
            flyte.init_from_config()
        except Exception as exc:  # the SDK raises several types for a missing or bad config
            raise NoEndpointError(f"(flyte.init_from_config() said: {exc})") from exc
        if not flyte.is_control_plane_available():
            raise NoEndpointError()
    probe_endpoint(configured_endpoint())  # a dead endpoint is named in seconds, not after the SDK's retries


def probe_before_submitting() -> None:
    """Before the first submission: the configured endpoint answers, or a compact error naming it."""
    from hydra_flyte.compat.flyte_private import configured_endpoint
    from hydra_flyte.config.validation import compact, probe_endpoint

    try:
        probe_endpoint(configured_endpoint())
    except HydraFlyteError as exc:
        raise compact(exc) from None


def _runner(job: JobSpec, *, submission: str | None = None) -> Any:
    """The flyte runner for this job, with the job's mode and run options (and a single run's token)."""
    import flyte

    options = dict(job.settings.run_options)
    name = job.planned_name or run_name(job)
    if name is not None:
        options["name"] = name
    labels = run_labels(job)
    if submission is not None:
        from hydra_flyte.config.run_rules import SUBMISSION_LABEL

        labels[SUBMISSION_LABEL] = submission
    if labels:
        options["labels"] = labels
    try:
        return flyte.with_runcontext(mode=job.settings.mode, **options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigurationError(
            f"run_options {sorted(options)} rejected by flyte.with_runcontext: {exc}"
        ) from exc
    except ValueError as exc:
        raise ConfigurationError(f"run_options rejected by flyte.with_runcontext: {exc}") from exc


def submit(task: Any, args: Sequence[Any], kwargs: Mapping[str, Any], job: JobSpec) -> Any:
    """Start `task` for one job and return flyte's Run: finished for local runs, submitted for remote ones.

    In a dry run nothing starts: the result is the DryRunPlan of what would have run.
    """
    if job.settings.mode == "remote":
        check_rules(job)  # what the control plane would refuse is refused here, before anything is sent
    if job.settings.dry_run:
        return DryRunPlan.of(task, job)
    collect = getattr(job.pool, "collect", None)
    if collect is not None:  # a detached sweep (hydra_flyte.durable): the job runs inside one driver run
        return collect(task, args, kwargs, job)
    if job.existing is not None:  # a resumed job whose run exists (or whose result was kept)
        if job.on_submitted is not None:
            job.on_submitted(job.existing)
        return job.existing
    if job.settings.mode == "local":
        runner = _runner(job)
        try:
            return runner.run(task, *args, **kwargs)
        except Exception as exc:
            raise RunFailedError(url=None, phase=FAILED, message=f"{type(exc).__name__}: {exc}") from exc
    ensure_endpoint()
    name = run_name(job)
    # A named single run has no sweep labels: a token of this submission tells its run from others.
    token = secrets.token_hex(8) if name is not None and job.sweep_id is None else None
    runner = _runner(job, submission=token)
    from hydra_flyte.compat.flyte_private import current_init_config, init_config_pinned

    # Sent later (held, then pooled): under the flyte.init configuration of this moment.
    init_config = current_init_config()

    def start() -> Any:
        if job.before_send is not None:
            job.before_send()
        with init_config_pinned(init_config):
            return send()

    def send() -> Any:
        try:
            try:
                run = runner.run(task, *args, **kwargs)
            except Exception as exc:
                if name is None or not is_already_exists(exc):
                    raise
                if token is not None:  # a single run: ours only if it carries this submission's token
                    return adopt_submission(name, exc, token=token)
                if job.sweep_id is None:
                    raise
                # The name was planned for this job: a run under it may be our own earlier attempt
                # whose reply was lost. Kept only if its labels say it is this sweep's job.
                return adopt_existing(name, exc, sweep_id=job.sweep_id, job_num=job.job_num)
            if name is None:  # a name Flyte chose: a new run, ours
                return run
            # An OK is no proof either: the open-source control plane answers a taken name with the
            # run that holds it. Ours only if its labels say so.
            return confirm_created(run, sweep_id=job.sweep_id, job_num=job.job_num, token=token)
        except RunNameClashError as clash:
            if job.pool is not None and job.sweep_id is not None:  # the other planned names would clash too
                job.pool.halt(clash)
            raise

    def landed(run: Any) -> None:
        announce(run, job)
        if job.on_submitted is not None:
            job.on_submitted(run)

    if job.pool is not None:
        return job.pool.submit(start, label=job.label, on_submitted=landed)
    run = call_with_retries(start, capacity=Capacity(job.settings.capacity_timeout_seconds))
    landed(run)
    return run


def check_rules(job: JobSpec) -> None:
    """This job's run against the control plane's rules (config.run_rules): its planned name, labels, env vars.

    A single run is checked here alone (every entry point submits it through `submit`); a sweep's
    runs are all checked by the launch before its jobs start, and this catches only names the
    launch could not foresee (a job's later `flyte.run`, beyond the room kept for it).
    """
    from hydra_flyte.config.run_rules import check_metadata, check_run_name

    where = "the run" if job.job_num is None else f"job {job.job_num}"
    if job.call > 1:
        where += f" (flyte.run call {job.call})"
    check_metadata(job.settings.run_options, labels=run_labels(job), where=where)
    name = job.planned_name or run_name(job)
    if name:
        check_run_name(name, where=where)


@dataclass(frozen=True)
class DryRunPlan:
    """What a job would run in a dry run: its overrides, run name and the task settings task_env applied."""

    job_num: int | None
    overrides: tuple[str, ...]
    task: str
    run_name: str | None
    mode: str
    task_env: Mapping[str, Any]

    @classmethod
    def of(cls, task: Any, job: JobSpec) -> DryRunPlan:
        from hydra_flyte.config.task_env import effective_task_settings

        return cls(
            job_num=job.job_num,
            overrides=tuple(job.overrides),
            task=str(getattr(task, "name", task)),
            run_name=run_name(job),
            mode=job.settings.mode,
            task_env=effective_task_settings(task),
        )

    def describe(self) -> str:
        where = f"job {self.job_num}" if self.job_num is not None else "run"
        env = ", ".join(f"{k}={v}" for k, v in self.task_env.items()) or "none"
        name = self.run_name or "(chosen by Flyte)"
        return f"{where} [{' '.join(self.overrides) or 'no overrides'}]: {self.task} as {name} ({self.mode}); task_env: {env}"


def finish(value: Any, job: JobSpec, *, contact: Contact | None = None) -> Any:
    """Turn what a job returned into its result: local runs and waited remote runs become RunResults.

    `contact`: the sweep's outage clock, shared by its waiters (see remote.contact).
    """
    if isinstance(value, PendingRun):
        value = value.result()  # the submission's own error, if it failed
    if not is_flyte_run(value):
        return value
    if job.settings.mode == "local":
        return RunResult(tuple(value.outputs()), run=value, overrides=job.overrides)
    if not job.settings.wait:
        return value
    return wait_for(
        value, overrides=job.overrides, contact=contact,
        reconnect_timeout_seconds=job.settings.reconnect_timeout_seconds,
    )  # fmt: skip


def announce(run: Any, job: JobSpec) -> None:
    """Print a submitted run's URL at once, before any waiting."""
    print(
        f"Submitted {run.name} ({job.label}): {run.url}", file=sys.stderr, flush=True
    )  # progress, not a result


def is_flyte_run(value: Any) -> bool:
    """True for a `flyte.remote.Run`, which flyte.run returns in every mode."""
    if "flyte.remote" not in sys.modules:
        return False
    from flyte.remote import Run

    return isinstance(value, Run)


def _failure_message(run: Any) -> str:
    """The task's own error message for a run that did not succeed."""
    raise_for_status = getattr(run, "raise_for_status", None)
    if not callable(raise_for_status):  # flyte < 2.10's Run: read the root action's details
        return _failure_from_action(run)
    try:
        raise_for_status()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error details"


def _failure_from_action(run: Any) -> str:
    """The error (or abort reason) recorded on a run's root action, through the public `Action.details`."""
    try:
        from flyte.remote import ActionDetails

        # Fresh details: those kept from watching the run may lack the error.
        details = ActionDetails.get_details(run.action.action_id)
    except Exception as exc:  # the control plane is gone: say why there is no message
        return f"no error details (could not read them: {type(exc).__name__}: {exc})"
    abort = getattr(details, "abort_info", None)
    if abort is not None and getattr(abort, "reason", ""):
        return f"ActionAbortedError: Run {run.name} was aborted: {abort.reason}"
    info = getattr(details, "error_info", None)
    if info is not None and (getattr(info, "message", "") or getattr(info, "kind", "")):
        kind = str(getattr(info, "kind", "") or "")
        return f"{kind}: {info.message}" if kind else str(info.message)
    return "no error details"


def wait_for(
    run: Any,
    *,
    overrides: Sequence[str] = (),
    reconnect_timeout_seconds: float = DEFAULT_RECONNECT_TIMEOUT_SECONDS,
    contact: Contact | None = None,
) -> RunResult:
    """Wait for a submitted remote run and return its RunResult; RunFailedError (URL, phase, message) if it failed.

    An unreachable control plane is retried with backoff for `reconnect_timeout_seconds` (after
    flyte's own reconnects); then ContactLostError: the run's phase is unconfirmed, not failed.

    Example::

        runs = hydra_sweep(pipeline, ..., wait=False)
        results = [wait_for(run) for run in runs]
    """
    contact = contact or Contact(reconnect_timeout_seconds)
    what = f"waiting for run {run.name}"

    def ended() -> Any:
        run.wait(quiet=True)
        return run.phase

    phase = contact.call(ended, what=what, run=run)
    if not is_success(phase):
        raise RunFailedError(url=run.url, phase=phase_name(phase), message=_failure_message(run), run=run)
    outputs = contact.call(
        lambda: tuple(run.outputs()), what=f"reading the outputs of run {run.name}", run=run
    )
    return RunResult(outputs, run=run, url=run.url, name=run.name, overrides=overrides)
