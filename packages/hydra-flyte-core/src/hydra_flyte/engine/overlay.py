"""LaunchOverlay: what the Python SDK hands FlyteLauncher for one launch that a YAML config cannot carry."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.utils import JobReturn
from omegaconf import DictConfig


@dataclass
class LaunchOverlay:
    """What the Python SDK adds to a launch that a YAML config cannot carry."""

    run_options: Mapping[str, Any] = field(default_factory=dict)
    on_job_finished: Callable[[int, JobReturn], None] | None = None
    task_name: str = ""  # recorded in the sweep manifest
    # The sweep-directory locks the launch took, released by the SDK when its sweep returns.
    sweep_locks: list[Any] = field(default_factory=list)
    task_env_key: str | None = None  # where the jobs' task_env entries are (None: the default key)
    # Checks one composed config as the SDK's task call will use it (raises a HydraFlyteError).
    check_job: Callable[[DictConfig], None] | None = None
    # In a dry run: what the SDK's task call would run for a job (its DryRunPlan), without running it.
    plan_job: Callable[[DictConfig, Any], Any] | None = None


_overlay: contextvars.ContextVar[LaunchOverlay | None] = contextvars.ContextVar(
    "hydra_flyte_launch_overlay", default=None
)


def launch_overlay() -> contextvars.ContextVar[LaunchOverlay | None]:
    """The context variable through which the SDK hands its overlay to the launcher."""
    return _overlay
