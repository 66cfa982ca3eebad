"""Single runs of a `@hydra.main` app with `hydra/launcher=flyte` selected.

Hydra 1.3 never calls the launcher for a run without `--multirun`: `Hydra.run` calls the task
function itself. The `hydra/launcher=flyte` config node therefore also adds this callback under
`hydra.callbacks`, and it gives a single run what the launcher gives each job of a sweep:

- `on_job_start` opens a job scope, so the script's `flyte.run` (or `hydra_flyte.run`) follows
  `hydra.launcher.mode`, `wait` and `run_options`;
- `on_job_end` closes it and, when the job returned a run started through that routing, turns
  it into the job's result: a `RunResult` for a local run or a waited remote run, the submitted
  `flyte.remote.Run` with `wait=false`. A run that fails (or cannot be waited for) marks the job
  FAILED, so Hydra re-raises its error and the script exits 1.

During a sweep the launcher has already opened the job's scope, and the callback does nothing.
Hydra turns an exception raised by a callback into a warning, so neither hook raises: a bad
launcher setting is reported through the job instead (when it calls `flyte.run`). A job that
failed on one of hydra_flyte's configuration errors gets it back as a Hydra compact error, which
Hydra prints without a traceback; a task's own failure keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from hydra_flyte.compat.hydra_private import job_value

if TYPE_CHECKING:
    from hydra_flyte.remote.submit import JobSpec

log = logging.getLogger(__name__)


class FlyteRunCallback(Callback):
    """Routes a single run's `flyte.run` to `hydra.launcher.mode` and hands Hydra the run's result."""

    # Reads neither a job's `hydra_cfg` nor its hydra node: see compose.job_runner.only_our_callbacks.
    reads_job_hydra_config = False

    def __init__(self) -> None:
        from hydra_flyte.compat.coexistence import warn_if_other_plugin_installed

        warn_if_other_plugin_installed()
        self._scope: contextlib.ExitStack | None = None
        self._job: Any = None
        self._started: list[Any] = []
        self._settings: Any = None  # read by on_run_start, before the snapshot is redacted
        self._started_at = 0.0

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Read the launch settings, then redact env var values before Hydra saves `.hydra/hydra.yaml`."""
        from hydra_flyte.config.redact import redact_env_vars
        from hydra_flyte.config.validation import launch_settings

        try:
            self._settings = launch_settings(config.hydra.launcher)
        except Exception as exc:  # reported by on_job_start, through the job
            self._settings = exc
            return
        if self._settings.run_options.get("env_vars"):
            redact_env_vars(config)  # the run still gets the values: they are in self._settings

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra_flyte.config.validation import launch_settings
        from hydra_flyte.engine.job_scope import current_job, failing_scope, job_scope
        from hydra_flyte.remote.submit import JobSpec

        if config.hydra.mode != RunMode.RUN or current_job() is not None:
            return  # a sweep: FlyteLauncher opened this job's scope
        overrides = tuple(OmegaConf.to_container(config.hydra.overrides.task) or ())  # type: ignore[arg-type]
        scope = contextlib.ExitStack()
        started: list[Any] = []
        settings, self._settings = self._settings, None
        try:
            if isinstance(settings, Exception):
                raise settings
            if settings is None:  # a caller that skipped on_run_start
                settings = launch_settings(config.hydra.launcher)
            job = JobSpec(settings=settings, job_num=None, overrides=overrides)
        except Exception as exc:  # a bad mode or option: fail the job when it tries to run
            scope.enter_context(failing_scope(exc))
            job = None
        else:
            started = scope.enter_context(job_scope(job))
            from hydra_flyte.state.output import logging_to_stderr

            logging_to_stderr()  # Hydra's console handlers: logs are not results (the summary is)
        self._scope, self._job, self._started = scope, job, started
        self._started_at = time.monotonic()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """The sweep has ended: print its summary if it waited (batched sweepers), release its directory."""
        from hydra_flyte.state.summary import flush_pending
        from hydra_flyte.state.sweep_lock import release_sweep_lock

        flush_pending()
        with contextlib.suppress(Exception):  # Hydra would only warn; the process exit releases it too
            release_sweep_lock(str(config.hydra.sweep.dir))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        from hydra_flyte.config.validation import compact, is_our_configuration_error
        from hydra_flyte.engine.outcomes import settle

        scope, job, started = self._scope, self._job, self._started
        if scope is None:
            return
        if is_our_configuration_error(job_value(job_return)):
            # Hydra re-raises the job's error after this: as a compact error it prints the message alone.
            job_return.return_value = compact(job_value(job_return))
        self._scope = self._job = None
        self._started = []
        scope.close()
        # Finish only a run this scope started: a value from elsewhere (say hydra_run's own
        # task function, which waits or not as its caller asked) is the caller's business.
        if job is not None and any(run is job_value(job_return) for run in started):
            settle(job_return, job)
            try:
                print_single_run(job_return, job, time.monotonic() - self._started_at)
            except Exception as exc:  # the run's outcome stands; Hydra would only warn
                log.warning(f"could not print the run's summary: {type(exc).__name__}: {exc}")


def print_single_run(job_return: JobReturn, job: JobSpec, seconds: float) -> None:
    """A single run's one-row summary, in its `summary` format, on stdout."""
    from hydra.core.utils import JobStatus

    from hydra_flyte.state.summary import print_summary, run_header, single_record

    value = job_value(job_return)
    if job.settings.dry_run and job_return.status is JobStatus.COMPLETED:
        from hydra_flyte.state.output import print_plans

        print_plans([value])  # what would have run: no run, so no summary row
        return
    if job_return.status is JobStatus.COMPLETED:
        record = single_record(job.overrides, result=value, duration=seconds)
    else:
        record = single_record(job.overrides, error=value, duration=seconds)
    header = run_header(mode=job.settings.mode, run_options=job.settings.run_options)
    print_summary([record], fmt=job.settings.summary, title="Run", header=header)
