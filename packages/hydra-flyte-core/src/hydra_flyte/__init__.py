"""hydra_flyte: compose configs with Hydra and run every job as a Flyte task.

Importing this package is cheap: each name is loaded on first use, so
`from hydra_flyte import apply_task_env` inside a task does not start Hydra's runtime.

Example::

    from hydra_flyte import hydra_sweep
    results = hydra_sweep(pipeline, config_path="conf", config_name="training",
                          overrides=["optimizer.lr=0.001,0.01,0.1"], dataset="digits", mode="local")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra_flyte._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "hydra_run": "hydra_flyte.sdk.api",
    "hydra_sweep": "hydra_flyte.sdk.api",
    "apply_task_env": "hydra_flyte.config.task_env",
    "dictconfig_parameter": "hydra_flyte.config.tasks",
    "FlyteLauncher": "hydra_flyte.engine.launcher",
    "FlyteLauncherConf": "hydra_flyte.launcher_config",
    "register_launcher_config": "hydra_flyte.launcher_config",
    "RunResult": "hydra_flyte.results",
    "run": "hydra_flyte.engine.job_scope",
    "sweep_status": "hydra_flyte.remote.reattach",
    "sweep_report": "hydra_flyte.report.html",
    "rerun_failed": "hydra_flyte.remote.reattach",
    "abort_sweep": "hydra_flyte.remote.abort",
    "SweepAbort": "hydra_flyte.remote.abort",
    "load_manifest": "hydra_flyte.remote.reattach",
    "Manifest": "hydra_flyte.state.manifest",
    "DryRunPlan": "hydra_flyte.remote.submit",
    "wait_for": "hydra_flyte.remote.submit",
    "JobOutcome": "hydra_flyte.results",
    "HydraFlyteError": "hydra_flyte.errors",
    "ConfigurationError": "hydra_flyte.errors",
    "NoEndpointError": "hydra_flyte.errors",
    "EndpointUnreachableError": "hydra_flyte.errors",
    "SweepValidationError": "hydra_flyte.errors",
    "InvalidJob": "hydra_flyte.errors",
    "RunFailedError": "hydra_flyte.errors",
    "SweepFailedError": "hydra_flyte.errors",
    "RunNameClashError": "hydra_flyte.errors",
    "RunRuleError": "hydra_flyte.errors",
    "WaitingForCapacityError": "hydra_flyte.errors",
    "ContactLostError": "hydra_flyte.errors",
    "SweepUnconfirmedError": "hydra_flyte.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from hydra_flyte.config.task_env import apply_task_env
    from hydra_flyte.config.tasks import dictconfig_parameter
    from hydra_flyte.engine.job_scope import run
    from hydra_flyte.engine.launcher import FlyteLauncher
    from hydra_flyte.errors import (
        ConfigurationError,
        ContactLostError,
        EndpointUnreachableError,
        HydraFlyteError,
        InvalidJob,
        NoEndpointError,
        RunFailedError,
        RunNameClashError,
        RunRuleError,
        SweepFailedError,
        SweepUnconfirmedError,
        SweepValidationError,
        WaitingForCapacityError,
    )
    from hydra_flyte.launcher_config import FlyteLauncherConf, register_launcher_config
    from hydra_flyte.remote.abort import SweepAbort, abort_sweep
    from hydra_flyte.remote.reattach import load_manifest, rerun_failed, sweep_status
    from hydra_flyte.remote.submit import DryRunPlan, wait_for
    from hydra_flyte.report.html import sweep_report
    from hydra_flyte.results import JobOutcome, RunResult
    from hydra_flyte.sdk.api import hydra_run, hydra_sweep
    from hydra_flyte.state.manifest import Manifest


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
