"""The sweep manifest: one record per job (overrides, run name, URL, phase, value or error), always on disk.

The file is rewritten atomically (a temporary file in the same directory, then `os.replace`) and is
readable by its owner alone. Jobs are recorded with their planned run names before anything is
submitted, so a process killed at any point leaves a manifest naming every run the control plane
may have received. Environment variables given to the runs are recorded by name only.

A new sweep into a directory that holds another sweep's manifest keeps that manifest: it is moved
aside to `flyte-sweep.<its sweep id>.json` (still readable by `status`, also by its sweep id), with
a warning, before the new one is written.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hydra_flyte.config.run_rules import (  # noqa: F401 - the run labels, re-exported where they always were
    JOB_LABEL,
    SUBMISSION_LABEL,
    SWEEP_LABEL,
    new_sweep_id,
)
from hydra_flyte.state.phases import PLANNED, SUBMIT_FAILED, SUBMITTED, is_rerunnable_failure

MANIFEST_NAME = "flyte-sweep.json"
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def jsonable(value: Any) -> Any:
    """A JSON-friendly form of a task's value: numbers and strings as they are, the rest as repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)


@dataclass
class JobRecord:
    """One job of the sweep as the manifest keeps it."""

    job: int
    overrides: list[str]
    run_name: str | None = None
    url: str | None = None
    phase: str = PLANNED
    value: Any = None
    error: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)  # earlier runs of this job (reruns)
    updated_at: str = field(default_factory=_now)
    duration_seconds: float | None = None  # how long the job took (local sweeps: its run on this machine)
    action: str | None = None  # a detached sweep's job: its child action in the driver's run


@dataclass
class Manifest:
    """A sweep's manifest: its identity, where its runs went, and one record per job."""

    path: Path
    sweep_id: str
    task: str = ""
    mode: str = "remote"
    endpoint: str | None = None
    project: str | None = None
    domain: str | None = None
    env_var_names: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    jobs: dict[int, JobRecord] = field(default_factory=dict)
    interrupted: bool = False
    direction: str | None = None  # the sweeper's ('minimize'/'maximize'), when it has one
    # A detached sweep: its driver run ({"run_name", "url", "max_concurrency"}); every job is a child action of it.
    driver: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _dirty: bool = field(default=False, repr=False, compare=False)
    # Each record's JSON text, dropped when the record changes: a write re-encodes only what
    # changed since the last one, so rewriting the file stays linear in the sweep's size.
    _encoded: dict[int, str] = field(default_factory=dict, repr=False, compare=False)
    _timer: threading.Timer | None = field(default=None, repr=False, compare=False)
    # Called once, after the file is first written (a launch says where its manifest is only then).
    on_first_write: Callable[[Manifest], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One form wherever the path is shown (summaries, the report, messages, the JSON): absolute,
        # whatever directory the sweep was started or read from.
        self.path = Path(self.path).resolve()

    # Updates after the plan are coalesced: written at most this often (the plan, an interrupt and
    # `save` write at once). A killed process still leaves every planned run name on disk.
    FLUSH_SECONDS = 0.2

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        sweep_dir: str | os.PathLike[str],
        *,
        sweep_id: str | None = None,
        task: str = "",
        run_options: Mapping[str, Any] | None = None,
        mode: str = "remote",
    ) -> Manifest:
        """A new manifest for a sweep in `sweep_dir` (created if needed), with secrets kept out.

        A local sweep's manifest (`mode="local"`) records each job's phase, value and duration;
        its jobs have no run name or URL, and nothing in it is looked up on a control plane.
        """
        options = dict(run_options or {})
        _keep_earlier_manifest(Path(sweep_dir) / MANIFEST_NAME)
        manifest = cls(
            path=Path(sweep_dir) / MANIFEST_NAME,
            sweep_id=sweep_id or new_sweep_id(),
            task=task,
            mode=mode,
            project=options.get("project"),
            domain=options.get("domain"),
            env_var_names=sorted((options.get("env_vars") or {}).keys()),
            labels=dict(options.get("labels") or {}),
        )
        if mode == "remote":
            manifest._endpoint_from_flyte()
        return manifest

    def _endpoint_from_flyte(self) -> None:
        self.project, self.domain = project_and_domain(self.project, self.domain)

    def plan(self, jobs: Iterable[tuple[int, Sequence[str], str | None]]) -> None:
        """Record jobs (number, overrides, planned run name) before any of them is submitted."""
        with self._lock:
            for num, overrides, name in jobs:
                self.jobs[num] = JobRecord(job=num, overrides=list(overrides), run_name=name)
                self._encoded.pop(num, None)
            self._write()

    def submitted(self, num: int, *, run_name: str, url: str) -> None:
        if self.endpoint is None and "://" in url:
            scheme, rest = url.split("://", 1)
            self.endpoint = f"{scheme}://{rest.split('/', 1)[0]}"
        if self.project is None or self.domain is None:
            # A @hydra.main app initialises flyte inside its first job, after the manifest was made.
            self.project, self.domain = project_and_domain(self.project, self.domain)
        self._update(num, run_name=run_name, url=url, phase=SUBMITTED)

    def finished(self, num: int, *, phase: str, value: Any = None, error: str | None = None) -> None:
        self._update(num, phase=phase, value=jsonable(value), error=error)

    def phase_seen(self, num: int, phase: str) -> None:
        """Job `num`'s run is in `phase` now (it has not ended: its value and error stay as they are)."""
        self._update(num, phase=phase)

    def disowned(self, num: int, *, error: str) -> None:
        """The run under job `num`'s name is not this sweep's: no run, value or URL of ours; SUBMIT_FAILED."""
        self._update(num, phase=SUBMIT_FAILED, url=None, value=None, error=error)

    def driver_planned(
        self, *, run_name: str, max_concurrency: int | None, extra: Mapping[str, Any] | None = None
    ) -> None:
        """A detached sweep's driver run is about to be sent: its name on disk first (no URL until it is confirmed).

        A process killed between the CreateRun and its answer leaves the name to look up (`status`).
        """
        with self._lock:
            self.driver = {
                "run_name": run_name,
                "url": None,
                "max_concurrency": max_concurrency,
                **(extra or {}),
            }
            for num, record in self.jobs.items():
                if record.phase == PLANNED:
                    record.run_name = run_name
                    self._encoded.pop(num, None)
            self._write()

    def driven_by(
        self, *, run_name: str, url: str, max_concurrency: int | None, extra: Mapping[str, Any] | None = None
    ) -> None:
        """A detached sweep's driver run was created: every planned job is submitted as part of it.

        `extra`: more of the driver's record (e.g. `kind` and `on_end`, see hydra_flyte.durable.status).
        """
        with self._lock:
            self.driver = {
                "run_name": run_name,
                "url": url,
                "max_concurrency": max_concurrency,
                **(extra or {}),
            }
        self.submitted_all(run_name=run_name, url=url)

    def driver_rerun(self, jobs: Sequence[int], *, run_name: str, url: str) -> None:
        """A detached sweep's `jobs` run again in a new driver run: each job's previous attempt moves to `attempts`."""
        with self._lock:
            driver = dict(self.driver or {})
            driver["earlier"] = [*driver.get("earlier", []), driver.get("run_name")]
            driver.update(run_name=run_name, url=url)
            self.driver = driver
        for num in jobs:
            self.resubmitted(num, run_name=run_name, url=url)
            self._update(num, action=None)

    def submitted_all(self, *, run_name: str, url: str) -> None:
        """Every job still PLANNED was submitted in the run `run_name` (a detached sweep's driver)."""
        for num, record in list(self.jobs.items()):
            if record.phase == PLANNED:
                self.submitted(num, run_name=run_name, url=url)

    def asked(self, num: int, overrides: Sequence[str]) -> None:
        """Job `num`'s overrides, known only once it was asked (a detached Optuna sweep's trial, asked by its driver)."""
        self._update(num, overrides=list(overrides))

    def child_seen(self, num: int, *, phase: str, action: str | None) -> None:
        """A detached job's child action: its name and the phase it is in (not ended: no value yet)."""
        self._update(num, phase=phase, action=action)

    def timed(self, num: int, seconds: float) -> None:
        """How long job `num` took (a local job: from the start of its task function to its end)."""
        self._update(num, duration_seconds=round(seconds, 3))

    def _update(self, num: int, **changes: Any) -> None:
        with self._lock:
            record = self.jobs[num]
            for key, value in changes.items():
                setattr(record, key, value)
            record.updated_at = _now()
            self._encoded.pop(num, None)
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Mark the file stale and make sure a write follows shortly (called with the lock held)."""
        self._dirty = True
        if self._timer is None:
            self._timer = threading.Timer(self.FLUSH_SECONDS, self._flush_if_dirty)
            self._timer.daemon = True
            self._timer.start()

    def _flush_if_dirty(self) -> None:
        with self._lock:
            self._timer = None
            if self._dirty:
                self._write()

    def resubmitted(self, num: int, *, run_name: str, url: str) -> None:
        """A rerun: the job's previous run moves to `attempts`, the new one becomes current."""
        with self._lock:
            record = self.jobs[num]
            record.attempts.append(
                {k: getattr(record, k) for k in ("run_name", "url", "phase", "value", "error", "updated_at")}
            )
            record.run_name, record.url, record.phase = run_name, url, SUBMITTED
            record.value, record.error, record.updated_at = None, None, _now()
            self._encoded.pop(num, None)
            self._schedule_flush()

    def new_attempts(
        self, names: dict[int, str], *, previous: dict[int, tuple[str, str]] | None = None
    ) -> None:
        """`--resume`: each job's previous attempt moves to `attempts`; its new run name is planned (on disk at once).

        `previous` can say what a previous attempt is recorded as first: (phase, error), e.g. why its
        run cannot be used.
        """
        with self._lock:
            for num, name in names.items():
                record = self.jobs[num]
                if previous and num in previous:
                    record.phase, record.error = previous[num]
                record.attempts.append(
                    {
                        k: getattr(record, k)
                        for k in ("run_name", "url", "phase", "value", "error", "updated_at")
                    }
                )
                record.run_name, record.url, record.phase = name, None, PLANNED
                record.value, record.error, record.updated_at = None, None, _now()
                self._encoded.pop(num, None)
            self._write()

    def mark_interrupted(self) -> None:
        with self._lock:
            self.interrupted = True
            self._write()

    # -- reading and writing -----------------------------------------------------------------
    _HEADER = ("sweep_id", "task", "mode", "endpoint", "project", "domain", "env_var_names", "labels",
               "created_at", "interrupted", "direction", "driver")  # fmt: skip

    def _header(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, **{key: getattr(self, key) for key in self._HEADER}}

    def to_json(self) -> dict[str, Any]:
        return {**self._header(), "jobs": [_record_dict(self.jobs[n]) for n in sorted(self.jobs)]}

    def to_text(self) -> str:
        """The file's text: the header keys one per line, then one line per job (in job order)."""
        head = json.dumps(self._header(), indent=1)[:-2] + ',\n "jobs": ['
        encoded = self._encoded
        rows = []
        for num in sorted(self.jobs):
            text = encoded.get(num)
            if text is None:
                text = encoded[num] = json.dumps(_record_dict(self.jobs[num]))
            rows.append("  " + text)
        return f"{head}\n" + ",\n".join(rows) + "\n ]\n}\n" if rows else f"{head}]\n}}\n"

    def _write(self) -> None:
        """Atomically replace the file; owner-only permissions (called with the lock held)."""
        self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.to_text().encode()
        fd, tmp = tempfile.mkstemp(prefix=".flyte-sweep-", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, self.path)  # atomic: readers see the old file or the new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _remember(self)
        announce, self.on_first_write = self.on_first_write, None
        if announce is not None:
            announce(self)

    def save(self) -> None:
        with self._lock:
            self._write()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        data = json.loads(path.read_text())
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported manifest version {data.get('version')!r}")
        jobs = {int(j["job"]): JobRecord(**j) for j in data.pop("jobs")}
        data.pop("version")
        return cls(path=path, jobs=jobs, **{k: v for k, v in data.items() if k in cls._HEADER})

    # -- views -------------------------------------------------------------------------------
    def records(self) -> list[JobRecord]:
        return [self.jobs[n] for n in sorted(self.jobs)]

    def failed(self) -> list[JobRecord]:
        return [r for r in self.records() if is_rerunnable_failure(r.phase)]


_RECORD_FIELDS = tuple(f.name for f in fields(JobRecord))


def project_and_domain(project: str | None, domain: str | None) -> tuple[str | None, str | None]:
    """Where remote runs go: the run options' project and domain, else flyte's current ones (None if unknown)."""
    try:
        import flyte

        return project or flyte.current_project(), domain or flyte.current_domain()
    except Exception:  # not initialised: leave them unknown
        return project, domain


def record_dict(record: JobRecord) -> dict[str, Any]:
    """A record as plain JSON data (its fields hold JSON values already; no deep copy needed)."""
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


_record_dict = record_dict


def index_dir() -> Path:
    """Where sweep ids are mapped to manifest paths, so `status <sweep id>` can find them."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hydra-flyte" / "sweeps"


# Index directories this process has pruned already (once each: a sweep writes its entry once).
_pruned: set[Path] = set()


def _remember(manifest: Manifest) -> None:
    index = index_dir()
    entry = index / manifest.sweep_id
    if entry.exists():
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(str(manifest.path.resolve()))
    except OSError:
        return  # the index is a convenience; the manifest itself is what matters
    if index not in _pruned:
        _pruned.add(index)
        prune_index(index)


def prune_index(index: Path | None = None) -> list[str]:
    """Drop the index entries whose manifest is gone (its sweep directory deleted); the sweep ids dropped."""
    index = index_dir() if index is None else index
    dropped = []
    try:
        entries = list(index.iterdir())
    except OSError:
        return dropped
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_file() and not Path(entry.read_text().strip()).is_file():
                entry.unlink()
                dropped.append(entry.name)
    return dropped


def _keep_earlier_manifest(path: Path) -> Path | None:
    """Move another sweep's manifest at `path` aside (its runs stay findable); where it went, or None."""
    try:
        data = json.loads(path.read_text())
        sweep_id = str(data["sweep_id"])
        jobs = len(data.get("jobs") or ())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: keep its bytes all the same
        sweep_id, jobs = f"unreadable-{new_sweep_id()}", 0
    kept = path.with_name(f"flyte-sweep.{sweep_id}.json")
    if kept.exists():
        kept = path.with_name(f"flyte-sweep.{sweep_id}.{new_sweep_id()}.json")
    os.replace(path, kept)
    entry = index_dir() / sweep_id
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(str(kept.resolve()))
    log.warning(
        f"{path.parent} held the manifest of sweep {sweep_id} ({jobs} jobs); it is kept as {kept.name} "
        f"(`flyte hydra status {kept}` reads it). Give each sweep a hydra.sweep.dir of its own, "
        "or resume that sweep with --resume."
    )
    return kept


def find_manifest(sweep: str | os.PathLike[str]) -> Path:
    """A manifest path from a path (file or sweep directory) or a sweep id."""
    candidate = Path(sweep)
    if candidate.is_dir():
        candidate = candidate / MANIFEST_NAME
    if candidate.is_file():
        return candidate
    entry = index_dir() / str(sweep)
    gone = ""
    if entry.is_file():
        recorded = Path(entry.read_text().strip())
        if recorded.is_file():
            return recorded
        with contextlib.suppress(OSError):
            entry.unlink()  # its manifest is gone: the entry would only mislead the next lookup
        gone = f" Sweep {str(sweep)!r} was recorded at {recorded}, which is no longer there."
    raise FileNotFoundError(
        f"no sweep manifest at {str(sweep)!r}: pass the manifest's path, its sweep directory, or a sweep id "
        f"recorded on this machine (under {index_dir()}).{gone}"
    )


def format_summary(records: Sequence[JobRecord]) -> str:
    """A plain-text table of the jobs: job, overrides, phase, value or error, URL."""
    rows = [("job", "overrides", "phase", "value / error", "url")]
    for r in records:
        outcome = r.error if r.error else ("" if r.value is None else str(r.value))
        rows.append((str(r.job), " ".join(r.overrides) or "-", r.phase, _clip(outcome, 60), r.url or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows
    ]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.phase] = counts.get(r.phase, 0) + 1
    lines.append(", ".join(f"{n} {phase.lower()}" for phase, n in sorted(counts.items())))
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
