"""Launch: one sweep's launch through FlyteLauncher, its settings, manifest, lock and job durations, across batches.

FlyteLauncher builds one `Launch` in `setup` and hands it every batch Hydra's sweeper gives it
(`engine.batch.run_batch`) or every job a streaming sweeper starts (`engine.job_stream`). The
settings are built once: handed over whole by the SDK and the CLI (`LaunchOverlay.settings`), or
read from `hydra.launcher` for a `@hydra.main` script. The modules that start, wait for and end
the jobs (`job_start`, `local_sweep`, `launch_end`, `job_stream`, `batch`) read and change a launch
only through the members below.

Light at import: composition, submission and the manifest load when a launch runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from hydra_flyte.engine.outcomes import Durations
from hydra_flyte.engine.overlay import LaunchOverlay
from hydra_flyte.errors import HydraFlyteError, InvalidJob
from hydra_flyte.settings_schema import LaunchSettings

if TYPE_CHECKING:
    from hydra_flyte.compose.configs import ReusingConfigLoader
    from hydra_flyte.remote.held_submissions import HeldSubmissions
    from hydra_flyte.remote.submit import JobSpec
    from hydra_flyte.state.manifest import Manifest
    from hydra_flyte.state.sweep_lock import SweepLock

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


class Launch:
    """A sweep's launch: what every batch and every streamed job of the sweep shares."""

    def __init__(
        self,
        *,
        settings: LaunchSettings,
        config: DictConfig,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        overlay: LaunchOverlay | None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.overlay = overlay  # what the SDK adds (its task call, its record of outcomes); None otherwise
        self.manifest: Manifest | None = None  # the sweep manifest (remote or local sweep), once launched
        self.durations = Durations()  # when each remote job's run was confirmed: its duration at its end
        self.sweep_lock: SweepLock | None = None
        self._name_checked = False

    # -- set up, once per sweep ----------------------------------------------------------------

    @property
    def driven_by_sdk(self) -> bool:
        """True when hydra_run/hydra_sweep (or the CLI through them) drive this launch."""
        return self.overlay is not None

    def prepare_resume(self) -> None:
        """With `settings.resume`: check the sweep can resume, and take the manifest it resumes."""
        if self.settings.resume is not None:
            from hydra_flyte.remote.resume import prepare

            # The manifest's sweep: its directory (locked next), its id and run names.
            self.manifest = prepare(self.config, self.settings)

    def lock_sweep_dir(self) -> None:
        """One sweep per directory: lock it before the sweeper writes there or composes a job.

        Hydra's sweepers set up the launcher before they save `multirun.yaml` and validate (compose)
        the first batch, so a second sweep into the same directory is refused before either.
        A dry run writes no manifest and submits nothing: it takes no lock.
        """
        from hydra_flyte.state.sweep_lock import lock_sweep_dir

        if self.settings.dry_run or self.sweep_lock is not None:
            return
        self.sweep_lock = lock_sweep_dir(str(self.config.hydra.sweep.dir))
        if self.overlay is not None:
            self.overlay.sweep_locks.append(self.sweep_lock)
        if self.manifest is not None:
            self.sweep_lock.describe(sweep_id=self.manifest.sweep_id)

    def manifest_for(self, sweep_dir: Path) -> Manifest | None:
        """The sweep's manifest (one per launch, across a custom sweeper's batches); none for a dry run."""
        if self.settings.dry_run:
            return None
        if self.manifest is None:
            from hydra_flyte.state.manifest import Manifest
            from hydra_flyte.state.summary import direction_of

            task = self.overlay.task_name if self.overlay is not None else ""
            self.manifest = Manifest.create(
                sweep_dir, task=task, run_options=self.settings.run_options, mode=self.settings.mode
            )
            self.manifest.direction = direction_of(self.config.hydra.sweeper)
            if self.sweep_lock is not None:
                self.sweep_lock.describe(sweep_id=self.manifest.sweep_id)
            # Said once the file exists: a sweep that stops before planning a job writes none.
            self.manifest.on_first_write = lambda m: log.info(f"Sweep {m.sweep_id}: manifest at {m.path}")
        return self.manifest

    # -- each job: composed and checked before anything of the batch runs ---------------------------

    @property
    def config_loader(self) -> ReusingConfigLoader:
        """The sweep's ReusingConfigLoader (installed by FlyteLauncher.setup)."""
        return self.hydra_context.config_loader  # type: ignore[return-value]

    def compose(self, overrides: Sequence[str], idx: int) -> DictConfig:
        """One job's config, numbered; in a dry run, a job that does not compose is a ConfigurationError."""
        from hydra_flyte.errors import ConfigurationError

        try:
            sweep_config = self.config_loader.load_job_config(self.config, overrides)
        except Exception as exc:
            if not self.settings.dry_run:
                raise
            raise ConfigurationError(
                f"dry run: job {idx} ({' '.join(overrides)}) does not compose: {exc}"
            ) from exc
        if self.settings.run_options.get("env_vars"):
            from hydra_flyte.config.redact import redact_env_vars

            redact_env_vars(sweep_config)  # before run_job writes the job's .hydra/hydra.yaml
        job_node = sweep_config.hydra.job
        with open_dict(job_node):  # Hydra opens the whole config: the same values and flags, a longer walk
            job_node.id = idx
            job_node.num = idx
        return sweep_config

    def invalid_config(self, cfg: DictConfig, idx: int, overrides: Sequence[str]) -> InvalidJob | None:
        """Why a job's composed config cannot run (its task_env entries, the SDK's task call), or None."""
        from hydra_flyte.config.task_env import check_task_env_section

        overlay = self.overlay
        try:
            check_task_env_section(cfg, task_env_key=overlay.task_env_key if overlay is not None else None)
            if overlay is not None and overlay.check_job is not None:
                overlay.check_job(cfg)
        except HydraFlyteError as exc:
            return InvalidJob(idx, tuple(overrides), exc)
        return None

    @staticmethod
    def raise_if_invalid(found: Sequence[InvalidJob | None], *, total: int | None = None) -> None:
        """Raise one SweepValidationError (printed by Hydra without a traceback) naming every invalid job."""
        from hydra_flyte.config.validation import compact
        from hydra_flyte.errors import SweepValidationError

        invalid = [job for job in found if job is not None]
        if not invalid:
            return
        from hydra_flyte.errors import NoEndpointError

        no_endpoint = next((job.error for job in invalid if isinstance(job.error, NoEndpointError)), None)
        if no_endpoint is not None:  # not the jobs' fault: one message, the fix for the whole sweep
            raise compact(no_endpoint)
        raise compact(SweepValidationError(invalid, total=len(found) if total is None else total))

    def check_name_is_free(self, jobs: Sequence[JobSpec]) -> None:
        """With a run name given (`--name`), its first job's name looked up once (see remote.name_check)."""
        if (
            self._name_checked
            or not jobs
            or self.manifest is None
            or not self.settings.run_options.get("name")
            or self.settings.mode != "remote"
        ):
            return
        from hydra_flyte.remote.name_check import check_name_is_free

        self._name_checked = True
        check_name_is_free(self.manifest, jobs)

    def remote_submission(self, stack: contextlib.ExitStack) -> HeldSubmissions | None:
        """For remote mode: the batch's held submission pool (see remote.held_submissions.remote_submission)."""
        from hydra_flyte.remote.held_submissions import remote_submission

        return remote_submission(self.settings, stack)

    # -- each job's end, and the sweep's ----------------------------------------------------------------

    def job_finished(self, job_num: int, ret: JobReturn) -> None:
        """Tell the SDK (when it drives this launch) that a job ended, with its outcome."""
        if self.overlay is not None and self.overlay.on_job_finished is not None:
            self.overlay.on_job_finished(job_num, ret)

    def job_end(self, config: DictConfig, ret: JobReturn) -> None:
        """Hydra's on_job_end for one job, now that its outcome is known, with its Hydra config set."""
        from hydra.core.hydra_config import HydraConfig

        from hydra_flyte.compose.job_runner import only_our_callbacks

        callbacks = self.hydra_context.callbacks
        if only_our_callbacks(callbacks):  # ours reads neither HydraConfig nor hydra_cfg
            callbacks.on_job_end(config=config, job_return=ret)
            return
        hydra_config = HydraConfig.instance()
        previous = hydra_config.cfg
        hydra_config.cfg = ret.hydra_cfg  # type: ignore[assignment]
        try:
            callbacks.on_job_end(config=config, job_return=ret)
        finally:
            hydra_config.cfg = previous

    def print_summary(self) -> None:
        """The sweep's end: its report when asked, then its summary (every job), in its `summary` format, on stdout.

        Printed once per sweep: at the end of its one batch, or when a batched sweeper's sweep ends.
        """
        from hydra_flyte.state.summary import forget, print_summary, sweep_header

        forget(self)
        manifest = self.manifest
        if manifest is None:
            return
        if self.settings.report:
            from hydra_flyte.report.html import write_report

            write_report(manifest)
        where = f" ({manifest.mode})" if manifest.mode == "local" else ""
        print_summary(
            manifest.records(), fmt=self.settings.summary, direction=manifest.direction,
            title=f"Sweep {manifest.sweep_id}{where}", footer=[f"Manifest: {manifest.path}"],
            header=sweep_header(manifest),
        )  # fmt: skip

    def summary_due(self) -> None:
        """Print the sweep's summary now when this batch was the whole sweep; else when the sweep ends.

        BasicSweeper without a batch limit launches every job at once; other sweepers (Optuna, ...)
        launch batch after batch, so the summary waits for the sweep's end (FlyteRunCallback's
        on_multirun_end, the SDK's return, or the process's exit when the sweeper raised).
        """
        from hydra_flyte.state.summary import defer

        sweeper = self.config.hydra.sweeper
        if "BasicSweeper" in str(sweeper.get("_target_", "")) and sweeper.get("max_batch_size") is None:
            self.print_summary()
        else:
            defer(self, self.print_summary)

    def can_stream(self) -> bool:
        """True if this launch's jobs go remote and are waited on: a sweeper may start them one by one."""
        return (
            self.settings.mode == "remote"
            and self.settings.wait
            and not self.settings.dry_run
            and not self.settings.detach
        )
