"""What a Ctrl-C does to a waiting sweep: write the manifest, abort if asked, say how to reattach.

The first Ctrl-C stops the waiting. By default the runs go on; with `abort_on_interrupt` every
unfinished run is aborted and recorded ABORTED. While this is done, a second Ctrl-C exits at once
(the manifest on disk is always complete: it is replaced atomically).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any


def _exit_now(signum: int, frame: Any) -> None:
    os._exit(130)


def handle_interrupt(interrupt: KeyboardInterrupt, manifest: Any, runs: Sequence[Any], settings: Any) -> None:
    """Handle the first Ctrl-C of a waiting sweep; the caller re-raises `interrupt`.

    The KeyboardInterrupt itself is re-raised (not a subclass), so a script that does not catch it
    exits the way Python exits on Ctrl-C (status 130). It gains `manifest_path` and `aborted`.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _exit_now)
    try:
        aborted: list[str] = []
        if settings.abort_on_interrupt:
            from ._phases import ABORTED
            from ._waiting import abort_runs

            for run in abort_runs(runs, reason="hydra-flyte: sweep interrupted (abort_on_interrupt)"):
                aborted.append(run.name)
                if manifest is not None:
                    num = next((n for n, r in manifest.jobs.items() if r.run_name == run.name), None)
                    if num is not None:
                        manifest.finished(num, phase=ABORTED, error="aborted on interrupt")
        where = f" {manifest.path}" if manifest is not None else ""
        if manifest is not None:
            manifest.mark_interrupted()
        if aborted:
            message = f"Interrupted: aborted {len(aborted)} unfinished run(s): {', '.join(aborted)}."
        else:
            message = "Interrupted: stopped waiting; the submitted runs go on."
        if manifest is not None:
            message += f" Manifest:{where}. Reattach with: flyte hydra status{where} --wait"
        print(message, file=sys.stderr, flush=True)
        interrupt.manifest_path = getattr(manifest, "path", None)  # type: ignore[attr-defined]
        interrupt.aborted = aborted  # type: ignore[attr-defined]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
