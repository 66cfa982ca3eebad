"""Jobs of a launch started one at a time and handed back as each finishes (FlyteLauncher.job_stream).

`FlyteLauncher.launch` is batch-shaped (engine.batch): it submits every job it is given, then waits for all of
them. A sweeper that keeps a fixed number of trials in flight (hydra/sweeper=optuna_async) needs
the two halves apart: `start` composes one job and submits its run at once (the URL is printed
when the control plane confirms it), and `next_finished` blocks until any started job is done.
Each job goes through the launch's own steps (composition, Hydra's run_job, the manifest, the
progress counts, waiting with `finish_all`, `on_job_end`), so its directory, `.hydra/`
snapshots, run name, labels and manifest record are those of any other sweep's job.

Only remote sweeps that wait have a stream; in local mode, dry runs and `wait=false` a sweeper
launches one job at a time through `launch` instead.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from hydra_flyte.compat.hydra_private import job_value
from hydra_flyte.engine.launch import Launch
from hydra_flyte.remote.submit import JobSpec

log = logging.getLogger(__name__)


class JobStream:
    """Start jobs of one sweep whenever the caller likes; collect them in the order they finish."""

    def __init__(self, launch: Launch, *, total: int, stack: contextlib.ExitStack) -> None:
        from hydra.core.utils import configure_log, setup_globals

        from hydra_flyte.config.run_rules import check_launch
        from hydra_flyte.remote.waiting import Progress

        setup_globals()
        config = launch.config
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self._launch = launch
        self.settings = launch.settings
        # Every trial the sweeper may start, checked against what a real control plane refuses.
        check_launch(self.settings, job_nums=range(total), sweeper=config.hydra.sweeper,
                     sweep_id=launch.manifest.sweep_id if launch.manifest is not None else None)  # fmt: skip
        self.manifest = launch.manifest_for(sweep_dir)
        self.progress = Progress(total)
        if self.manifest is not None:  # whatever happens, what was submitted is on disk
            stack.callback(self.manifest.save)
        self._pool = launch.remote_submission(stack)
        self._done: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._jobs: dict[int, tuple[JobReturn, JobSpec, DictConfig]] = {}
        self._runs: dict[int, Any] = {}  # what each unfinished job's task function returned (a PendingRun)
        self._aborted = False
        self._released = False  # the first job's submission is held until it is checked
        self.submitted_any = False
        # A resumed sweep (settings.resume): its jobs' records and run names are the manifest's.
        self.resuming = self.settings.resume is not None and self.manifest is not None

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    def start(self, job_num: int, overrides: list[str] | tuple[str, ...], *, existing: Any = None) -> None:
        """Compose job `job_num`, check it and start its run; returns once its submission is under way.

        A job that does not compose or is invalid raises, with nothing submitted for it. The first
        job's submission is held until it is checked (and the endpoint answers), as in `launch`.
        `existing` (a resumed job's run of this sweep, see remote.resume.plan) is waited on instead of
        submitting; a resumed job already in the manifest keeps its record and planned run name.
        """
        from hydra_flyte.engine.job_start import start_job
        from hydra_flyte.engine.outcomes import compact_job_errors, invalid_job
        from hydra_flyte.remote.submit import probe_before_submitting, run_name

        launch = self._launch
        overrides = tuple(overrides)
        config = launch.compose(overrides, job_num)
        launch.raise_if_invalid([launch.invalid_config(config, job_num, overrides)])
        if self.manifest is not None and not (self.resuming and job_num in self.manifest.jobs):
            # the run's name is on disk before it is submitted
            planned = JobSpec(settings=self.settings, job_num=job_num, overrides=overrides,
                              sweep_id=self.manifest.sweep_id)  # fmt: skip
            self.manifest.plan([(job_num, overrides, run_name(planned))])
        first = not self._released
        try:
            ret, job, config = start_job(
                launch, config, overrides, job_num, self._pool, self.progress, existing
            )
            if first:
                launch.raise_if_invalid([invalid_job(ret, job)])
                probe_before_submitting()
                if not self.resuming:
                    launch.check_name_is_free([job])
        except BaseException as exc:
            if first and self._pool is not None:
                self._pool.cancel(exc)
            raise
        if first and self._pool is not None:
            self._pool.release()
            self._released = True
        compact_job_errors([(ret, job, config)])
        self._jobs[job_num] = (ret, job, config)
        if ret.status is not JobStatus.COMPLETED:  # the task function raised before (or while) submitting
            self.progress.finished(ok=False, started=False, submitted=False)
            self._done.put((job_num, None))
            return
        self.submitted_any = True
        value = job_value(ret)
        self._runs[job_num] = value
        threading.Thread(
            target=self._wait_one, args=(job_num, value, job), name=f"hydra-flyte-job-{job_num}", daemon=True
        ).start()

    def _wait_one(self, job_num: int, value: Any, job: JobSpec) -> None:
        from hydra_flyte.engine.outcomes import record_in_manifest
        from hydra_flyte.remote.waiting import finish_all

        def finished(_index: int, outcome: Any) -> None:
            if self.manifest is not None:
                record_in_manifest(self.manifest, job, outcome)
                self._launch.durations.record(self.manifest, job)

        try:
            (outcome,) = finish_all(
                [(value, job)], max_workers=1, on_finished=finished, progress=self.progress
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread as the job's outcome
            outcome = exc
        self._done.put((job_num, outcome))

    def next_finished(self) -> tuple[int, JobReturn]:
        """Block until a started job finishes; its number and JobReturn (COMPLETED or FAILED).

        A Ctrl-C stops the waiting as in any sweep (the runs go on, or are aborted with
        `abort_on_interrupt`; the manifest says how to reattach) and is re-raised.
        """
        from hydra_flyte.engine.outcomes import record_outcome

        if not self._jobs:
            raise RuntimeError("no job in flight")
        try:
            while True:
                try:
                    job_num, outcome = self._done.get(timeout=0.5)
                    break
                except queue.Empty:
                    continue
        except KeyboardInterrupt as interrupt:
            from hydra_flyte.engine.interrupt import handle_interrupt

            handle_interrupt(
                interrupt,
                self.manifest,
                list(self._runs.values()),
                self.settings,
                sdk=self._launch.driven_by_sdk,
            )
            raise
        ret, job, config = self._jobs.pop(job_num)
        self._runs.pop(job_num, None)
        if ret.status is JobStatus.COMPLETED:
            record_outcome(ret, job, outcome)
        self._launch.job_end(config, ret)
        self._launch.job_finished(job_num, ret)
        if self.settings.fail_fast and ret.status is not JobStatus.COMPLETED and not self._aborted:
            self._aborted = True
            self.abort_all(reason=f"fail_fast: job {job.label} failed")
        return job_num, ret

    def interrupted(self, interrupt: KeyboardInterrupt) -> None:
        """A Ctrl-C while a job was being started: as `launch` does while submitting (the caller re-raises)."""
        from hydra_flyte.engine.interrupt import handle_interrupt

        handle_interrupt(interrupt, self.manifest, list(self._runs.values()), self.settings, submitting=True,
                         sdk=self._launch.driven_by_sdk)  # fmt: skip

    def abort_all(self, *, reason: str) -> None:
        """Abort every run still going (their jobs still come back from next_finished, failed)."""
        from hydra_flyte.remote.waiting import abort_runs

        abort_runs(list(self._runs.values()), reason=reason)

    def summary(self) -> None:
        """Write the manifest (and the report, when asked) and print the summary of every job (the sweep has ended)."""
        if self.manifest is None:
            return
        self.manifest.save()
        self._launch.print_summary()


@contextlib.contextmanager
def job_stream(launch: Launch, *, total: int) -> Iterator[JobStream]:
    """A JobStream over `launch` (a remote sweep's launch that waits for its runs)."""
    from hydra_flyte.compat.omegaconf_private import interpolations_parsed_once
    from hydra_flyte.compose.heap import heap_frozen

    if not launch.can_stream():
        raise RuntimeError("job streams need FlyteLauncher in remote mode with wait=true")
    with contextlib.ExitStack() as stack:
        from hydra_flyte.state.output import results_on_stdout

        stack.enter_context(results_on_stdout())  # logs and progress to stderr, the summary to stdout
        stack.enter_context(heap_frozen())
        stack.enter_context(interpolations_parsed_once())
        yield JobStream(launch, total=total, stack=stack)
