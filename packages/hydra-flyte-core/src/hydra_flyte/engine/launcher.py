"""FlyteLauncher: Hydra's launcher that runs every job of a sweep as a Flyte run.

Imported during Hydra's plugin discovery, so it imports nothing heavy at module level: flyte is
imported only when jobs are launched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.compose.heap import heap_frozen
from hydra_flyte.engine.job_start import start_job
from hydra_flyte.engine.launch_end import finish_launch, job_end, print_sweep_summary
from hydra_flyte.engine.outcomes import Durations, compact_job_errors, invalid_job
from hydra_flyte.engine.overlay import _overlay
from hydra_flyte.errors import HydraFlyteError
from hydra_flyte.remote.name_check import check_name_is_free
from hydra_flyte.remote.submit import probe_before_submitting

log = logging.getLogger(__name__)


class FlyteLauncher(Launcher):
    """Runs each job's task function in a Flyte job scope; submits all jobs first, then waits for all."""

    def __init__(self, **fields: Any) -> None:
        # Checked in `setup`, not here: Hydra wraps an error raised while instantiating the
        # launcher in its own message, and prints what `setup` raises as it is.
        self._fields = fields
        self._base_settings: Any = None
        self.manifest: Any = None  # the sweep manifest (remote or local sweep), once launched
        self._name_checked = False
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self._sweep_lock: Any = None  # this sweep's lock on its directory (see _lock_sweep_dir)
        self.durations = Durations()  # when each remote job's run was confirmed: its duration at its end

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra_flyte.compat.coexistence import warn_if_other_plugin_installed
        from hydra_flyte.compose.configs import ReusingConfigLoader
        from hydra_flyte.config.validation import (
            check_settings,
            check_sweeper_supports,
            compact,
            launch_settings,
        )
        from hydra_flyte.state.summary import logging_to_stderr

        warn_if_other_plugin_installed()
        logging_to_stderr()  # Hydra's and the sweeper's log lines: stdout is for the summary
        try:
            self._base_settings = launch_settings(self._fields)
            check_settings(self.settings())  # with the SDK's run options, when it drives the launch
            check_sweeper_supports(config)
            if self._base_settings.report and not self._base_settings.dry_run:
                from hydra_flyte.report.html import require_plotly

                require_plotly()  # before any job runs: the pip line, not a sweep without its report
        except HydraFlyteError as exc:
            raise compact(exc) from None
        # The sweeper holds this same context: its batch validation composes through the reusing
        # loader too, and the launcher takes the configs it composed: one copy of a shared base a job.
        if not isinstance(hydra_context.config_loader, ReusingConfigLoader):
            hydra_context.config_loader = ReusingConfigLoader(hydra_context.config_loader)
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        try:
            if self._base_settings.resume is not None:
                from hydra_flyte.remote.resume import prepare

                # The manifest's sweep: its directory (locked next), its id and run names.
                self.manifest = prepare(config, self._base_settings)
            self._lock_sweep_dir(config)
        except HydraFlyteError as exc:
            raise compact(exc) from None
        if self.manifest is not None:
            self._sweep_lock.describe(sweep_id=self.manifest.sweep_id)
        if self._base_settings.run_options.get("env_vars"):
            from hydra_flyte.config.redact import redact_env_vars

            # Before the sweeper saves multirun.yaml; this launcher already holds the real values.
            redact_env_vars(config)

    def _lock_sweep_dir(self, config: DictConfig) -> None:
        """One sweep per directory: lock it before the sweeper writes there or composes a job.

        Hydra's sweepers set up the launcher before they save `multirun.yaml` and validate (compose)
        the first batch, so a second sweep into the same directory is refused before either.
        A dry run writes no manifest and submits nothing: it takes no lock.
        """
        from hydra_flyte.state.sweep_lock import lock_sweep_dir

        if self._base_settings.dry_run or self._sweep_lock is not None:
            return
        self._sweep_lock = lock_sweep_dir(str(config.hydra.sweep.dir))
        overlay = _overlay.get()
        if overlay is not None:
            overlay.sweep_locks.append(self._sweep_lock)

    def settings(self) -> Any:
        """This launch's settings: the launcher config, plus the SDK's run options when it drives us."""
        overlay = _overlay.get()
        if overlay is None or not overlay.run_options:
            return self._base_settings
        base = self._base_settings
        return dataclasses.replace(base, run_options={**base.run_options, **overlay.run_options})

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra_flyte.config.run_rules import check_launch
        from hydra_flyte.remote.submit import run_name

        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        from hydra_flyte.state.summary import logging_to_stderr

        logging_to_stderr()  # the handlers Hydra just bound to stdout: logs are not results
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings()
        verb = "Planning" if settings.dry_run else "Launching"
        log.info(f"{verb} {len(job_overrides)} jobs on Flyte ({settings.mode} mode)")
        numbered = [
            (initial_job_idx + offset, tuple(overrides)) for offset, overrides in enumerate(job_overrides)
        ]
        check_launch(settings, job_nums=[idx for idx, _ in numbered], sweeper=self.config.hydra.sweeper,
                     sweep_id=getattr(self.manifest, "sweep_id", None))  # fmt: skip
        manifest = self._manifest_for(settings, sweep_dir)
        resumed = None
        if settings.resume is not None:  # look every job up, plan the new attempts: before composing any
            resumed = self._resume(manifest, numbered, initial_job_idx, settings)
        progress = None
        if manifest is not None and (settings.wait or settings.mode == "local"):
            from hydra_flyte.remote.waiting import Progress

            progress = Progress(len(numbered), local=settings.mode == "local")
        submitted: list[tuple[JobReturn, Any, DictConfig]] = []
        try:
            with contextlib.ExitStack() as stack:
                from hydra_flyte.compat.omegaconf_private import interpolations_parsed_once
                from hydra_flyte.state.summary import results_on_stdout

                stack.enter_context(results_on_stdout())  # logs and progress to stderr, the summary to stdout
                stack.enter_context(heap_frozen())
                stack.enter_context(interpolations_parsed_once())
                if manifest is not None:  # whatever happens, what was submitted is on disk
                    stack.callback(_save_if_planned, manifest)
                stack.callback(self._config_loader().forget_validated)
                # Every job is composed and checked before the first one runs or is submitted.
                configs = [self._compose(overrides, idx, settings) for idx, overrides in numbered]
                self._raise_if_invalid(
                    [
                        self._invalid_config(cfg, idx, overrides)
                        for (idx, overrides), cfg in zip(numbered, configs, strict=True)
                    ]
                )
                if manifest is not None and settings.mode == "local":  # every job of the launch on disk first
                    manifest.plan((idx, overrides, None) for idx, overrides in numbered)
                held = self._remote_submission(settings, stack)
                try:
                    for (idx, overrides), cfg in zip(numbered, configs, strict=True):
                        submitted.append(
                            start_job(
                                self,
                                cfg,
                                overrides,
                                idx,
                                settings,
                                held,
                                manifest,
                                progress,
                                resumed.existing.get(idx) if resumed is not None else None,
                            )  # fmt: skip
                        )
                    del configs
                    # Remote submissions were only recorded: release them if every job is valid.
                    # (Local jobs ran as they came: their own errors are reported job by job.)
                    if held is not None or settings.dry_run:
                        self._raise_if_invalid(
                            [invalid_job(ret, job) for ret, job, _ in submitted], total=len(submitted)
                        )
                    else:
                        compact_job_errors(submitted)
                    if manifest is not None and resumed is None:  # every run named on disk before submitting
                        unplanned = [job for _, job, _ in submitted if job.job_num not in manifest.jobs]
                        manifest.plan((job.job_num, job.overrides, run_name(job)) for job in unplanned)
                    if held is not None and len(held):
                        probe_before_submitting()
                    if manifest is not None and resumed is None:  # a reused --name: caught before submitting
                        self._check_name_is_free(settings, manifest, [job for _, job, _ in submitted])
                except BaseException as exc:
                    if held is not None:
                        held.cancel(exc)  # nothing was submitted
                    raise
                if held is not None:
                    held.release()
                return self._finish(submitted, settings, manifest, progress)
        except KeyboardInterrupt as interrupt:
            if not hasattr(interrupt, "manifest_path"):  # during submission (waiting reports its own)
                from hydra_flyte.engine.interrupt import handle_interrupt

                # The pool has let the submissions in flight land (and dropped the queued ones).
                runs = [job_value(ret) for ret, _, _ in submitted if ret.status is JobStatus.COMPLETED]
                sdk = _overlay.get() is not None
                if manifest is not None and manifest.mode == "local":  # no run to reattach to: recorded only
                    from hydra_flyte.engine.local_sweep import record_interrupt

                    record_interrupt(manifest)
                    manifest = None
                handle_interrupt(interrupt, manifest, runs, settings, submitting=True, sdk=sdk)
            raise

    def _compose(self, overrides: Sequence[str], idx: int, settings: Any) -> DictConfig:
        """One job's config, numbered; in a dry run, a job that does not compose is a ConfigurationError."""
        from hydra_flyte.errors import ConfigurationError

        assert self.config is not None
        try:
            sweep_config = self._config_loader().load_job_config(self.config, overrides)
        except Exception as exc:
            if not settings.dry_run:
                raise
            raise ConfigurationError(
                f"dry run: job {idx} ({' '.join(overrides)}) does not compose: {exc}"
            ) from exc
        if self._base_settings.run_options.get("env_vars"):
            from hydra_flyte.config.redact import redact_env_vars

            redact_env_vars(sweep_config)  # before run_job writes the job's .hydra/hydra.yaml
        job_node = sweep_config.hydra.job
        with open_dict(job_node):  # Hydra opens the whole config: the same values and flags, a longer walk
            job_node.id = idx
            job_node.num = idx
        return sweep_config  # type: ignore[no-any-return]

    def _invalid_config(self, cfg: DictConfig, idx: int, overrides: Sequence[str]) -> Any:
        """Why a job's composed config cannot run (its task_env entries, the SDK's task call), or None."""
        from hydra_flyte.config.task_env import check_task_env_section
        from hydra_flyte.errors import InvalidJob

        overlay = _overlay.get()
        try:
            check_task_env_section(cfg, task_env_key=overlay.task_env_key if overlay is not None else None)
            if overlay is not None and overlay.check_job is not None:
                overlay.check_job(cfg)
        except HydraFlyteError as exc:
            return InvalidJob(idx, tuple(overrides), exc)
        return None

    @staticmethod
    def _raise_if_invalid(found: Sequence[Any], *, total: int | None = None) -> None:
        """Raise one SweepValidationError (printed by Hydra without a traceback) naming every invalid job."""
        from hydra_flyte.config.validation import compact
        from hydra_flyte.errors import SweepValidationError

        invalid = [job for job in found if job is not None]
        if invalid:
            raise compact(SweepValidationError(invalid, total=len(found) if total is None else total))

    def _resume(self, manifest: Any, numbered: Any, initial_job_idx: int, settings: Any) -> Any:
        """Check this batch against the manifest, look its jobs up, plan their new attempts (see remote.resume)."""
        from hydra_flyte.remote.resume import resume_batch

        assert self.config is not None
        return resume_batch(self.config, manifest, numbered, initial_job_idx, settings)

    def job_stream(self, *, total: int) -> Any:
        """A context manager yielding a JobStream: start jobs one by one, collect each as it finishes.

        For sweepers that keep a number of jobs in flight (hydra/sweeper=optuna_async); remote
        sweeps that wait only (`can_stream`). See hydra_flyte.engine.job_stream.
        """
        from hydra_flyte.engine.job_stream import job_stream

        return job_stream(self, total=total)

    def can_stream(self) -> bool:
        """True if this launch's jobs go remote and are waited on: `job_stream` can start them one by one."""
        from hydra_flyte.engine.job_stream import can_stream

        return can_stream(self)

    def sweep_manifest(self, sweep_dir: Path) -> Any:
        """The sweep's manifest (created on first use), for a sweeper that records its own state beside it."""
        return self._manifest_for(self.settings(), sweep_dir)

    def _config_loader(self) -> Any:
        """The sweep's ReusingConfigLoader (set up in `setup`)."""
        assert self.hydra_context is not None
        return self.hydra_context.config_loader

    def _manifest_for(self, settings: Any, sweep_dir: Path) -> Any:
        """The sweep's manifest (one per launcher, across a custom sweeper's batches); none for a dry run."""
        if settings.dry_run:
            return None
        if self.manifest is None:
            from hydra_flyte.state.manifest import Manifest

            overlay = _overlay.get()
            task = overlay.task_name if overlay is not None else ""
            self.manifest = Manifest.create(
                sweep_dir, task=task, run_options=settings.run_options, mode=settings.mode
            )
            from hydra_flyte.state.summary import direction_of

            assert self.config is not None
            self.manifest.direction = direction_of(self.config.hydra.sweeper)
            if self._sweep_lock is not None:
                self._sweep_lock.describe(sweep_id=self.manifest.sweep_id)
            log.info(f"Sweep {self.manifest.sweep_id}: manifest at {self.manifest.path}")
        return self.manifest

    def _check_name_is_free(self, settings: Any, manifest: Any, jobs: Sequence[Any]) -> None:
        """With a run name given (`--name`), its first job's name looked up once (see remote.name_check)."""
        if (
            self._name_checked
            or not jobs
            or not settings.run_options.get("name")
            or settings.mode != "remote"
        ):
            return
        self._name_checked = True
        check_name_is_free(manifest, jobs)

    @staticmethod
    def _remote_submission(settings: Any, stack: contextlib.ExitStack) -> Any:
        """For remote mode: the launch's held submission pool (see remote.held_submissions.remote_submission)."""
        from hydra_flyte.remote.held_submissions import remote_submission

        return remote_submission(settings, stack)

    def _finish(
        self, submitted: list[tuple[JobReturn, Any, DictConfig]], settings: Any, manifest: Any, progress: Any
    ) -> list[JobReturn]:
        """Wait for every job's run (all submitted by now) and hand Hydra each job's real outcome."""
        return finish_launch(self, submitted, settings, manifest, progress)

    def print_summary(self) -> None:
        """The sweep's summary (every job so far), in the `summary` format of its settings, on stdout."""
        print_sweep_summary(self)

    def _job_end(self, config: DictConfig, ret: JobReturn) -> None:
        """Hydra's on_job_end for one job, now that its outcome is known, with its Hydra config set."""
        job_end(self, config, ret)


def _save_if_planned(manifest: Any) -> None:
    """Write the manifest, unless nothing of the sweep was planned (it stopped at validation)."""
    if manifest.jobs:
        manifest.save()
