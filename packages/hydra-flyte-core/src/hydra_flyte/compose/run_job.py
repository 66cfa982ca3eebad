"""Which `run_job` a launch runs each job with: hydra_flyte's job runner, or Hydra's own when this Hydra lacks what ours needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydra_flyte.compat.hydra_private import JOB_RUNNER_HYDRA_SYMBOLS

if TYPE_CHECKING:
    from hydra.core.utils import JobReturn
    from hydra.types import HydraContext, TaskFunction
    from omegaconf import DictConfig


def job_runner() -> Any:
    """`run_job(hydra_context=..., task_function=..., config=..., job_dir_key=..., job_subdir_key=..., job_end_callbacks=...)`.

    hydra_flyte's job runner when this Hydra and OmegaConf have what it needs, else Hydra's own.
    """
    from hydra_flyte.compat.omegaconf_private import JOB_RUNNER_OMEGACONF_SYMBOLS

    if JOB_RUNNER_HYDRA_SYMBOLS.available() and JOB_RUNNER_OMEGACONF_SYMBOLS.available():
        from hydra_flyte.compose.job_runner import run_job

        return run_job
    return _hydras_run_job


def run_sweep_job(
    *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig, dry_run: bool = False
) -> JobReturn:
    """One FlyteLauncher job through `job_runner()`: in its sweep directory, `on_job_end` held back.

    The launcher calls `on_job_end` itself (`engine.launch.Launch.job_end`), with the job's real outcome.
    In a dry run the job's logging is not set up (no log file) and, with hydra_flyte's job runner, its
    `.hydra/` snapshots are not written: the task function runs only to say what it would submit.
    """
    return job_runner()(
        hydra_context=hydra_context,
        task_function=task_function,
        config=config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
        job_end_callbacks=False,
        configure_logging=not dry_run,
        snapshots=not dry_run,
    )


def _hydras_run_job(
    *, hydra_context: Any, job_end_callbacks: bool = True, snapshots: bool = True, **kwargs: Any
) -> Any:
    """Hydra's public `run_job`; `job_end_callbacks=False` holds back `on_job_end` (the caller sends it).

    It writes the `.hydra/` snapshots whatever `snapshots` says (Hydra's has no such switch).
    """
    from hydra.core.utils import run_job
    from hydra.types import HydraContext

    if not job_end_callbacks:
        hydra_context = HydraContext(
            config_loader=hydra_context.config_loader, callbacks=_WithoutJobEnd(hydra_context.callbacks)
        )
    return run_job(hydra_context=hydra_context, **kwargs)


class _WithoutJobEnd:
    """Hydra's callbacks with `on_job_end` held back."""

    def __init__(self, callbacks: Any) -> None:
        self._callbacks = callbacks

    def on_job_end(self, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._callbacks, name)
