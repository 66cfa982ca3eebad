"""The exceptions hydra_flyte raises, one family for every entry point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra_flyte.results import JobOutcome


class HydraFlyteError(Exception):
    """Base class of every error hydra_flyte raises on purpose."""


class ConfigurationError(HydraFlyteError, ValueError):
    """The user's input is wrong (a value, a task, an override, a config); nothing was submitted."""


class NoEndpointError(HydraFlyteError):
    """Remote mode was asked for, but no Flyte endpoint is configured."""

    def __init__(self, detail: str = "") -> None:
        message = (
            "no Flyte endpoint configured: remote mode needs a Flyte control plane to submit to. "
            "Create a config file (`flyte create config --endpoint <host>`) or set FLYTECTL_CONFIG to one, "
            "call flyte.init(endpoint=...) / flyte.init_from_config(...) before submitting, "
            "or run locally (mode='local', --local, hydra.launcher.mode=local)."
        )
        super().__init__(f"{message} {detail}".strip())


class EndpointUnreachableError(NoEndpointError):
    """A Flyte endpoint is configured, but nothing answers there."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        HydraFlyteError.__init__(
            self,
            f"cannot reach the Flyte endpoint {endpoint} ({reason}); nothing was submitted. Check that the "
            "control plane is running and that the endpoint in your Flyte config (admin.endpoint, or "
            "--endpoint / -c on the command line, or flyte.init(endpoint=...)) is right, "
            "or run locally (mode='local', --local, hydra.launcher.mode=local).",
        )


class RunRuleError(ConfigurationError):
    """A run would break a rule of the Flyte control plane (or of Kubernetes, which runs it); it was not submitted.

    `rule` names the rule ("run name length", "label value", ...), `job` the job or run it concerns,
    `value` the offending value; the message says all of it and the fix (hydra_flyte.config.run_rules).
    """

    def __init__(self, *, rule: str, job: str, value: str, message: str, sweep: bool = False) -> None:
        self.rule = rule
        self.job = job
        self.value = value
        tail = "Nothing was submitted." if sweep else "It was not submitted."
        super().__init__(f"{rule} rule: {message} {tail}")


#: How many invalid jobs a sweep's error shows in full; the rest are counted.
SHOWN_INVALID_JOBS = 5


@dataclass(frozen=True)
class InvalidJob:
    """One job of a sweep that cannot be submitted, and why."""

    job_num: int
    overrides: tuple[str, ...]
    error: BaseException


class SweepValidationError(ConfigurationError):
    """Some jobs of a sweep are invalid, so none was submitted; `invalid` lists every one of them."""

    def __init__(self, invalid: Sequence[InvalidJob], total: int) -> None:
        self.invalid = list(invalid)
        self.total = total
        lines = [
            f"{len(self.invalid)} of {total} job{'s' if total != 1 else ''} of the sweep "
            f"{'is' if len(self.invalid) == 1 else 'are'} invalid, so nothing was submitted:"
        ]
        for job in self.invalid[:SHOWN_INVALID_JOBS]:
            lines.append(f"  job {job.job_num} [{' '.join(job.overrides) or 'no overrides'}]: {job.error}")
        hidden = len(self.invalid) - SHOWN_INVALID_JOBS
        if hidden > 0:
            numbers = ", ".join(str(j.job_num) for j in self.invalid[SHOWN_INVALID_JOBS:][:20])
            etc = ", ..." if hidden > 20 else ""
            lines.append(f"  ... and {hidden} more (jobs {numbers}{etc})")
        lines.append(
            "Fix these jobs' configs (a --dry-run checks every job without submitting) and run again."
        )
        super().__init__("\n".join(lines))


class RunFailedError(HydraFlyteError):
    """A Flyte run ended in a phase other than SUCCEEDED."""

    def __init__(self, *, url: str | None, phase: str, message: str, run: Any = None) -> None:
        self.url = url
        self.phase = phase
        self.message = message
        self.run = run
        where = f" ({url})" if url else ""
        super().__init__(f"run{where} ended in phase {phase}: {message}")


class SweepFailedError(HydraFlyteError):
    """At least one job of a sweep failed; `outcomes` holds every job's outcome, in sweep order."""

    def __init__(self, outcomes: Sequence[JobOutcome]) -> None:
        self.outcomes = list(outcomes)
        failed = [o for o in self.outcomes if o.error is not None]
        unconfirmed = [o for o in failed if isinstance(o.error, ContactLostError)]
        waiting = [o for o in failed if isinstance(o.error, WaitingForCapacityError)]
        if unconfirmed or waiting:
            parts = [f"{len(failed) - len(unconfirmed) - len(waiting)} failed"]
            if unconfirmed:
                parts.append(f"{len(unconfirmed)} unconfirmed: contact with the control plane was lost")
            if waiting:
                parts.append(f"{len(waiting)} not submitted: the control plane's quota was full")
            lines = [f"{len(failed)} of {len(self.outcomes)} jobs did not succeed ({', '.join(parts)}):"]
        else:
            lines = [f"{len(failed)} of {len(self.outcomes)} jobs failed:"]
        for outcome in failed:
            overrides = " ".join(outcome.overrides) or "(no overrides)"
            lines.append(f"  job {outcome.job_num} [{overrides}]: {outcome.error}")
        path = next((o.error.manifest_path for o in unconfirmed if o.error.manifest_path), None)  # type: ignore[union-attr]
        if path is not None:
            lines.append(f"Reattach with: flyte hydra status {path} --wait")
        super().__init__("\n".join(lines))

    @property
    def results(self) -> list[Any]:
        """The results of the jobs that succeeded, None in the place of each failed one."""
        return [o.result for o in self.outcomes]


class SweepUnconfirmedError(SweepFailedError):
    """Contact with the control plane was lost while waiting: some jobs' phases are unconfirmed (UNCONFIRMED).

    `outcomes` holds every job's outcome; an unconfirmed job's error is a ContactLostError. The
    runs may well go on: `flyte hydra status <manifest> --wait` (or `sweep_status(..., wait=True)`)
    reattaches.
    """


class ContactLostError(HydraFlyteError):
    """The control plane could not be reached for longer than the reconnect limit: a phase we could not confirm."""

    def __init__(self, *, what: str, seconds: float, cause: BaseException, run: Any = None) -> None:
        self.seconds = seconds
        self.run = run
        self.run_name = getattr(run, "name", None)
        self.url = getattr(run, "url", None)
        self.manifest_path: Any = None  # set by the launcher for a sweep's job
        super().__init__(
            f"lost contact with the control plane while {what} and could not reconnect within "
            f"{seconds:g} s (reconnect_timeout_seconds) after flyte's own reconnects "
            f"({type(cause).__name__}: {' '.join(str(cause).split())[:200]}); the phase is unconfirmed, "
            "the run itself may well go on"
        )


class RunNameClashError(HydraFlyteError):
    """A run name this sweep planned is taken on the control plane by a run that is not this sweep's job.

    Built by `hydra_flyte.remote.ownership.name_clash`, which reads the owner from the run's labels.
    """

    def __init__(
        self,
        run_name: str,
        *,
        owner_sweep: str | None,
        owner_job: str | None,
        owner_manifest: str | None = None,
        sweep_id: str | None,
        job_num: int | None,
    ) -> None:
        self.run_name = run_name
        self.owner_sweep = owner_sweep
        self.owner_job = owner_job
        if owner_sweep:
            owner = f"job {owner_job} of sweep {owner_sweep}"
            owner += f" (manifest {owner_manifest})" if owner_manifest else ""
        else:
            owner = "a run that is not part of any hydra-flyte sweep"
        ours = f"sweep {sweep_id}" if sweep_id else "this sweep" if job_num is not None else "this run"
        job = f" (job {job_num})" if job_num is not None else ""
        super().__init__(
            f"run name {run_name!r}{job} is already taken on the control plane by {owner}; {ours} did not "
            "submit it and will not use it. Choose another run name (`--name`, run_options['name'], "
            "hydra.launcher.run_options.name), or leave the name out so that each sweep names its runs "
            "after its own sweep id."
        )


class NotSubmittedError(HydraFlyteError):
    """A job left unsubmitted because the sweep stopped submitting (e.g. at a run name clash)."""


class WaitingForCapacityError(NotSubmittedError):
    """A job left unsubmitted while it waited for capacity (the control plane answered RESOURCE_EXHAUSTED).

    The quota stayed full for `capacity_timeout_seconds` with no submission getting in, or the launch
    stopped (Ctrl-C). Its record stays PLANNED, and `--resume` submits it under its planned name.
    """
