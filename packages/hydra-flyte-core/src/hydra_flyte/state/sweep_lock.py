"""One sweep per directory: an exclusive lock on a sweep directory for as long as the sweep runs.

Two sweeps writing one directory overwrite each other's manifest (and `multirun.yaml`, and the
jobs' `.hydra/` snapshots), so a sweep takes `<sweep dir>/.flyte-sweep.lock` before Hydra's
sweeper writes anything there and before any job is composed, and a second sweep into the same
directory is refused at once, naming the sweep that holds it.

The lock is `filelock`'s: on Linux and macOS an `flock` on the file, which the kernel drops when
the holding process ends, however it ends. A sweep killed with SIGKILL therefore leaves no lock
behind that could block `--resume`, `status` or a new sweep. Who holds the lock (pid, sweep id,
start time) is written next to it, in `.flyte-sweep.lock.owner`, only for the refusal message:
the lock file itself is truncated by every process that tries it.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import json
import os
import threading
from pathlib import Path
from typing import Any

from hydra_flyte.errors import ConfigurationError

LOCK_NAME = ".flyte-sweep.lock"
OWNER_NAME = ".flyte-sweep.lock.owner"


class SweepDirectoryInUseError(ConfigurationError):
    """Another sweep holds the sweep directory: nothing was composed or submitted."""

    def __init__(self, directory: Path, owner: dict[str, Any]) -> None:
        self.directory = directory
        self.owner = owner
        who = []
        if owner.get("sweep_id"):
            who.append(f"sweep {owner['sweep_id']}")
        if owner.get("pid"):
            who.append(f"pid {owner['pid']}")
        if owner.get("started_at"):
            who.append(f"started {owner['started_at']}")
        holder = f" ({', '.join(who)})" if who else ""
        super().__init__(
            f"sweep directory {directory} is in use by another sweep{holder}: two sweeps writing one "
            "directory overwrite each other's manifest. Wait for that sweep to end, or give this one its "
            "own directory: hydra.sweep.dir=<another directory> (with Hydra's default directory, started "
            "in the same second, add hydra.sweep.dir=multirun/<a name of your own>)."
        )


class SweepLock:
    """The lock on one sweep directory, held by this process until `release`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock: Any = None

    def acquire(self) -> SweepLock:
        """Take the lock at once or raise SweepDirectoryInUseError (never waits)."""
        from filelock import FileLock, Timeout

        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.directory / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SweepDirectoryInUseError(self.directory, _read_owner(self.directory)) from None
        self._lock = lock
        self.describe(sweep_id=None)
        return self

    def describe(self, *, sweep_id: str | None) -> None:
        """Write who holds the lock (for the message a refused sweep prints)."""
        owner = {
            "pid": os.getpid(),
            "sweep_id": sweep_id,
            "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        with contextlib.suppress(OSError):  # the message is a courtesy; the lock is what matters
            (self.directory / OWNER_NAME).write_text(json.dumps(owner) + "\n")

    @property
    def held(self) -> bool:
        return self._lock is not None

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        with contextlib.suppress(OSError):
            (self.directory / OWNER_NAME).unlink()
        lock.release()


def _read_owner(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / OWNER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# The locks this process holds, by resolved directory: a sweep's launcher takes its lock when it
# is set up; the lock is released when the sweep ends (hydra_sweep returns, or Hydra's
# on_multirun_end), and at the latest when the process exits.
_held: dict[Path, SweepLock] = {}
_held_guard = threading.Lock()


def lock_sweep_dir(directory: str | os.PathLike[str]) -> SweepLock:
    """Take the lock on `directory` for this sweep (SweepDirectoryInUseError if another sweep has it)."""
    path = Path(directory).resolve()
    with _held_guard:
        held = _held.get(path)
        if held is not None and held.held:
            # Still held by an earlier sweep of this process that has not ended: refuse too.
            raise SweepDirectoryInUseError(path, _read_owner(path))
        lock = SweepLock(path).acquire()
        _held[path] = lock
        return lock


def release_sweep_lock(directory: str | os.PathLike[str] | SweepLock) -> None:
    """Release this process's lock on a sweep directory (its sweep has ended); no-op if not held."""
    path = directory.directory if isinstance(directory, SweepLock) else Path(directory).resolve()
    with _held_guard:
        lock = _held.pop(path, None)
    if lock is not None:
        lock.release()


@atexit.register
def _release_all() -> None:
    """At exit, release what a sweep that raised left held: its owner file goes with the lock."""
    with _held_guard:
        held = list(_held.values())
        _held.clear()
    for lock in held:
        with contextlib.suppress(Exception):
            lock.release()
