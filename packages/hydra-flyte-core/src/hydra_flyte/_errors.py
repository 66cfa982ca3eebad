"""The exceptions hydra_flyte raises, one family for every entry point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._results import JobOutcome


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
        lines = [f"{len(failed)} of {len(self.outcomes)} jobs failed:"]
        for outcome in failed:
            overrides = " ".join(outcome.overrides) or "(no overrides)"
            lines.append(f"  job {outcome.job_num} [{overrides}]: {outcome.error}")
        super().__init__("\n".join(lines))

    @property
    def results(self) -> list[Any]:
        """The results of the jobs that succeeded, None in the place of each failed one."""
        return [o.result for o in self.outcomes]
