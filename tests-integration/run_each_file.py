"""Run each integration test file in a pytest process of its own (what `hatch run test:integration` does).

Each file gets a fresh loopback control plane and a fresh in-process Flyte SDK: a file that stops
and restarts a control plane, or SIGKILLs sweeps mid-watch, cannot leave later files' watchers
hanging. Extra arguments go to every pytest run; the exit status is non-zero if any run failed.

A hang fails its file instead of stalling CI: a test still running after FAULTHANDLER_SECONDS
prints every thread's stack, and a file still running after FILE_TIMEOUT_SECONDS is killed
(its whole process group) and counted as failed. The slowest file takes about two minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAULTHANDLER_SECONDS = 300
FILE_TIMEOUT_SECONDS = 900


def run_file(file: Path, args: list[str]) -> int:
    """Run one file's tests in a pytest process of its own; 124 if it ran out of time."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(file),
        "-o",
        f"faulthandler_timeout={FAULTHANDLER_SECONDS}",
        *args,
    ]
    process = subprocess.Popen(command, start_new_session=True)
    try:
        return process.wait(timeout=FILE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        print(
            f"integration: {file.name} still running after {FILE_TIMEOUT_SECONDS} s: killed", file=sys.stderr
        )
        return 124
    except KeyboardInterrupt:  # its own session gets no Ctrl-C from the terminal: pass it on
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def main(args: list[str]) -> int:
    files = sorted(HERE.glob("test_*.py"))
    failed = []
    for file in files:
        code = run_file(file, args)
        if code not in (0, 5):  # 5: every test of the file deselected by the given arguments
            failed.append(file.name)
    if failed:
        print(f"integration: failures in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
