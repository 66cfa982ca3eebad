"""hydra_flyte: compose configs with Hydra and run every job as a Flyte task.

Importing this package is cheap: each name is loaded on first use, so
`from hydra_flyte import apply_task_env` inside a task does not start Hydra's runtime.

Example::

    from hydra_flyte import hydra_sweep
    results = hydra_sweep(pipeline, config_path="conf", config_name="training",
                          overrides=["optimizer.lr=0.001,0.01,0.1"], dataset="digits", mode="local")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "hydra_run": "._sdk",
    "hydra_sweep": "._sdk",
    "apply_task_env": "._task_env",
    "dictconfig_parameter": "._tasks",
    "FlyteLauncher": "._launcher",
    "FlyteLauncherConf": ".launcher_config",
    "register_launcher_config": ".launcher_config",
    "RunResult": "._results",
    "run": "._job_scope",
    "sweep_status": "._sweeps",
    "sweep_report": "._report",
    "rerun_failed": "._sweeps",
    "load_manifest": "._sweeps",
    "Manifest": "._manifest",
    "DryRunPlan": "._submit",
    "wait_for": "._submit",
    "JobOutcome": "._results",
    "HydraFlyteError": "._errors",
    "ConfigurationError": "._errors",
    "NoEndpointError": "._errors",
    "EndpointUnreachableError": "._errors",
    "SweepValidationError": "._errors",
    "InvalidJob": "._errors",
    "RunFailedError": "._errors",
    "SweepFailedError": "._errors",
    "RunNameClashError": "._errors",
    "ContactLostError": "._errors",
    "SweepUnconfirmedError": "._errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from ._errors import (
        ConfigurationError,
        ContactLostError,
        EndpointUnreachableError,
        HydraFlyteError,
        InvalidJob,
        NoEndpointError,
        RunFailedError,
        RunNameClashError,
        SweepFailedError,
        SweepUnconfirmedError,
        SweepValidationError,
    )
    from ._job_scope import run
    from ._launcher import FlyteLauncher
    from ._manifest import Manifest
    from ._report import sweep_report
    from ._results import JobOutcome, RunResult
    from ._sdk import hydra_run, hydra_sweep
    from ._submit import DryRunPlan, wait_for
    from ._sweeps import load_manifest, rerun_failed, sweep_status
    from ._task_env import apply_task_env
    from ._tasks import dictconfig_parameter
    from .launcher_config import FlyteLauncherConf, register_launcher_config


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hydra_flyte' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
