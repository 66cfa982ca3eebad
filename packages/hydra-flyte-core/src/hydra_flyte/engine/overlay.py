"""LaunchOverlay: what the Python SDK (and the CLI through it) hands FlyteLauncher for one launch: its settings, built once, and what a YAML config cannot carry."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn
from omegaconf import DictConfig

from hydra_flyte.settings_schema import LaunchSettings

if TYPE_CHECKING:
    from hydra_flyte.remote.submit import DryRunPlan, JobSpec
    from hydra_flyte.state.sweep_lock import SweepLock


@dataclass
class LaunchOverlay:
    """What the Python SDK adds to a launch: its settings whole, and what a YAML config cannot carry."""

    settings: LaunchSettings  # the launch's settings, run options included: hydra.launcher is not read
    on_job_finished: Callable[[int, JobReturn], None] | None = None
    task_name: str = ""  # recorded in the sweep manifest
    # The sweep-directory locks the launch took, released by the SDK when its sweep returns.
    sweep_locks: list[SweepLock] = field(default_factory=list)
    task_env_key: str | None = None  # where the jobs' task_env entries are (None: the default key)
    # Checks one composed config as the SDK's task call will use it (raises a HydraFlyteError).
    check_job: Callable[[DictConfig], None] | None = None
    # In a dry run: what the SDK's task call would run for a job (its DryRunPlan), without running it.
    plan_job: Callable[[DictConfig, JobSpec], DryRunPlan] | None = None


_overlay: contextvars.ContextVar[LaunchOverlay | None] = contextvars.ContextVar(
    "hydra_flyte_launch_overlay", default=None
)


def launch_overlay() -> contextvars.ContextVar[LaunchOverlay | None]:
    """The context variable through which the SDK hands its overlay to the launcher."""
    return _overlay
