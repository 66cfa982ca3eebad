"""What a Ctrl-C does to a sweep: write the manifest, abort if asked, say how to resume or reattach.

The first Ctrl-C, while the jobs are being submitted or while they are waited on, stops the
sweep. By default the submitted runs go on; with `abort_on_interrupt` every unfinished run is
aborted and recorded ABORTED. While this is done, a second Ctrl-C exits at once (the manifest on
disk is always complete: it is replaced atomically). The message names the manifest and gives
the exact commands that go on from there: the entry point's own resume command (the same
command plus `--resume`, `hydra.launcher.resume=`, or `resume=`) and `flyte hydra status`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra_flyte.settings_schema import LaunchSettings
    from hydra_flyte.state.manifest import Manifest


@dataclass(frozen=True)
class Commands:
    """How an entry point says to go on with a sweep: each gets the manifest's path."""

    resume: Callable[[str], str]
    reattach: Callable[[str], str]


_commands: contextvars.ContextVar[Commands | None] = contextvars.ContextVar(
    "hydra_flyte_commands", default=None
)


@contextlib.contextmanager
def entry_point_commands(commands: Commands) -> Iterator[None]:
    """Within the block, interrupted sweeps print `commands` (the CLI sets its own)."""
    token = _commands.set(commands)
    try:
        yield
    finally:
        _commands.reset(token)


def _status_command(path: str) -> str:
    return f"flyte hydra status {shlex.quote(path)} --wait"


def _script_resume_command(path: str) -> str:
    """A `@hydra.main` script's own command line, with `hydra.launcher.resume=<manifest>`."""
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    kept = [a for a in argv if not a.lstrip("+").startswith("hydra.launcher.resume=")]
    return shlex.join([*kept, f"hydra.launcher.resume={path}"])


def _sdk_resume_command(path: str) -> str:
    return f"hydra_sweep(... the same arguments ..., resume={path!r})"


def commands(*, sdk: bool) -> Commands:
    """The commands to print: the entry point's (set by the CLI), else the SDK's or the script's."""
    given = _commands.get()
    if given is not None:
        return given
    return Commands(resume=_sdk_resume_command if sdk else _script_resume_command, reattach=_status_command)


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(130)


def handle_interrupt(
    interrupt: KeyboardInterrupt,
    manifest: Manifest | None,
    runs: Sequence[Any],
    settings: LaunchSettings,
    *,
    submitting: bool = False,
    sdk: bool = False,
) -> None:
    """Handle the first Ctrl-C of a sweep (while submitting or waiting); the caller re-raises `interrupt`.

    The KeyboardInterrupt itself is re-raised (not a subclass), so a script that does not catch it
    exits the way Python exits on Ctrl-C (status 130). It gains `manifest_path` and `aborted`.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _exit_now)
    try:
        aborted: list[str] = []
        if settings.abort_on_interrupt:
            from hydra_flyte.remote.waiting import abort_runs
            from hydra_flyte.state.phases import ABORTED

            for run in abort_runs(runs, reason="hydra-flyte: sweep interrupted (abort_on_interrupt)"):
                aborted.append(run.name)
                if manifest is not None:
                    num = next((n for n, r in manifest.jobs.items() if r.run_name == run.name), None)
                    if num is not None:
                        manifest.finished(num, phase=ABORTED, error="aborted on interrupt")
        if manifest is not None:
            manifest.mark_interrupted()
        if submitting and manifest is not None:
            from hydra_flyte.state.phases import PLANNED

            records = manifest.records()
            sent = sum(1 for r in records if r.phase != PLANNED)
            message = f"Interrupted while submitting: {sent} of {len(records)} jobs submitted"
            message += f"; aborted {len(aborted)} of them." if aborted else "; the submitted runs go on."
        elif aborted:
            message = f"Interrupted: aborted {len(aborted)} unfinished run(s): {', '.join(aborted)}."
        else:
            message = "Interrupted: stopped waiting; the submitted runs go on."
        if manifest is not None:
            path = str(manifest.path.resolve())
            how = commands(sdk=sdk)
            message += (
                f"\n  Manifest: {path}"
                f"\n  Resume with: {how.resume(path)}"
                f"\n  Reattach with: {how.reattach(path)}"
            )
        elif submitting:
            message = "Interrupted before any job was submitted."
        print(message, file=sys.stderr, flush=True)
        interrupt.manifest_path = getattr(manifest, "path", None)  # type: ignore[attr-defined]
        interrupt.aborted = aborted  # type: ignore[attr-defined]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
