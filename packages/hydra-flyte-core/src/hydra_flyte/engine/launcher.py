"""FlyteLauncher: Hydra's launcher that runs every job of a sweep as a Flyte run.

Thin, as Hydra's own launcher plugins are: `setup` builds the sweep's `Launch` (engine.launch)
and `launch` hands it each batch (engine.batch). Imported during Hydra's plugin discovery, so it
imports nothing heavy at module level: flyte is imported only when jobs are launched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_flyte.engine.overlay import launch_overlay
from hydra_flyte.errors import HydraFlyteError

if TYPE_CHECKING:
    from hydra_flyte.engine.job_stream import JobStream
    from hydra_flyte.engine.launch import Launch
    from hydra_flyte.settings_schema import LaunchSettings
    from hydra_flyte.state.manifest import Manifest


class FlyteLauncher(Launcher):
    """Runs each job's task function in a Flyte job scope; submits all jobs first, then waits for all."""

    def __init__(self, **fields: Any) -> None:
        # Checked in `setup`, not here: Hydra wraps an error raised while instantiating the
        # launcher in its own message, and prints what `setup` raises as it is.
        self._fields = fields
        self._launch: Launch | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra_flyte.compat.coexistence import warn_if_other_plugin_installed
        from hydra_flyte.compose.configs import ReusingConfigLoader
        from hydra_flyte.config.validation import check_sweeper_supports, compact
        from hydra_flyte.engine.launch import Launch
        from hydra_flyte.state.output import logging_to_stderr

        warn_if_other_plugin_installed()
        logging_to_stderr()  # Hydra's and the sweeper's log lines: stdout is for the summary
        overlay = launch_overlay().get()
        try:
            # Built once: the SDK and the CLI hand theirs over whole; a @hydra.main script's come from
            # hydra.launcher.
            settings = overlay.settings if overlay is not None else _settings_from_fields(self._fields)
            check_sweeper_supports(config)
            if settings.report and not settings.dry_run:
                from hydra_flyte.report.html import require_plotly

                require_plotly()  # before any job runs: the pip line, not a sweep without its report
        except HydraFlyteError as exc:
            raise compact(exc) from None
        # The sweeper holds this same context: its batch validation composes through the reusing
        # loader too, and the launcher takes the configs it composed: one copy of a shared base a job.
        if not isinstance(hydra_context.config_loader, ReusingConfigLoader):
            hydra_context.config_loader = ReusingConfigLoader(hydra_context.config_loader)
        launch = Launch(
            settings=settings,
            config=config,
            hydra_context=hydra_context,
            task_function=task_function,
            overlay=overlay,
        )
        try:
            launch.prepare_resume()
            launch.lock_sweep_dir()
        except HydraFlyteError as exc:
            raise compact(exc) from None
        if settings.run_options.get("env_vars"):
            from hydra_flyte.config.redact import redact_env_vars

            # Before the sweeper saves multirun.yaml; the launch already holds the real values.
            redact_env_vars(config)
        self._launch = launch

    @property
    def current(self) -> Launch:
        """This sweep's launch (set up by `setup`)."""
        if self._launch is None:
            raise RuntimeError("FlyteLauncher.setup has not run")
        return self._launch

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra_flyte.engine.batch import run_batch

        return run_batch(self.current, job_overrides, initial_job_idx)

    # -- what sweepers and tests ask of the launcher ---------------------------------------------

    def settings(self) -> LaunchSettings:
        """This launch's settings."""
        return self.current.settings

    @property
    def manifest(self) -> Manifest | None:
        """The sweep's manifest, once a batch or a stream created (or a resume loaded) it."""
        return self._launch.manifest if self._launch is not None else None

    def can_stream(self) -> bool:
        """True if this launch's jobs go remote and are waited on: `job_stream` can start them one by one."""
        return self.current.can_stream()

    def sweep_manifest(self, sweep_dir: Path) -> Manifest | None:
        """The sweep's manifest (created on first use), for a sweeper that records its own state beside it."""
        return self.current.manifest_for(sweep_dir)

    @contextlib.contextmanager
    def job_stream(self, *, total: int) -> Iterator[JobStream]:
        """Start jobs one by one and collect each as it finishes (see engine.job_stream).

        For sweepers that keep a number of jobs in flight (hydra/sweeper=optuna_async); remote
        sweeps that wait only (`can_stream`).
        """
        from hydra_flyte.engine.job_stream import job_stream

        with job_stream(self.current, total=total) as stream:
            yield stream

    def detached_job(self, overrides: Sequence[str], job_num: int) -> tuple[Any, str, DictConfig]:
        """A detached sweep whose jobs are asked on the cluster: one job's task call, kept, not submitted.

        (PlannedJob, task_env key, the job's composed config); see engine.detached_trials.capture_job.
        """
        from hydra_flyte.engine.detached_trials import capture_job

        return capture_job(self.current, overrides, job_num)

    def detached_end(self, run: Any, *, waited: bool) -> Sequence[JobReturn]:
        """A detached sweep whose jobs were asked on the cluster: every job of its manifest handed to Hydra's side."""
        from hydra_flyte.engine.detached_trials import end_jobs

        return end_jobs(self.current, run, waited=waited)

    def print_summary(self) -> None:
        """The sweep's summary (every job so far), in the `summary` format of its settings, on stdout."""
        self.current.print_summary()


def _settings_from_fields(fields: dict[str, Any]) -> LaunchSettings:
    """A `@hydra.main` script's settings: the fields of `hydra.launcher`, each checked."""
    from hydra_flyte.config.validation import launch_settings

    settings: LaunchSettings = launch_settings(fields)
    return settings
