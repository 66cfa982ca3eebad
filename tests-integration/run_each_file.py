"""Run each integration test file in a pytest process of its own (what `hatch run test:integration` does).

Each file gets a fresh loopback control plane and a fresh in-process Flyte SDK: a file that stops
and restarts a control plane, or SIGKILLs sweeps mid-watch, cannot leave later files' watchers
hanging. Extra arguments go to every pytest run; the exit status is non-zero if any run failed.

A hang fails its file instead of stalling CI: a test still running after FAULTHANDLER_SECONDS
prints every thread's stack, and a file still running after FILE_TIMEOUT_SECONDS is killed
(its whole process group) and counted as failed. The slowest file takes about two minutes.

The loopback control plane behaves as the profile $LOOPBACK_PROFILE names (default: open-source, see
flyte_loopback/rules.py). The files about trusting, faulting and resuming runs (BOTH_PROFILES) run a
second time under the other profile, since the two answer a taken name, a bad name and a quota
differently; the rest run once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from flyte_loopback.rules import DEFAULT_PROFILE, PROFILES  # noqa: E402

FAULTHANDLER_SECONDS = 300
FILE_TIMEOUT_SECONDS = 900
PROFILE_ENV = "LOOPBACK_PROFILE"
BOTH_PROFILES = frozenset(
    {
        "test_sweep_trust.py",
        "test_sweep_faults.py",
        "test_sweep_resume.py",
        "test_optuna_async_resume.py",
        "test_detached_faults.py",
    }
)


def run_file(file: Path, args: list[str], profile: str) -> int:
    """Run one file's tests in a pytest process of its own, under `profile`; 124 if it ran out of time."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(file),
        "-o",
        f"faulthandler_timeout={FAULTHANDLER_SECONDS}",
        *args,
    ]
    env = {**os.environ, PROFILE_ENV: profile}
    print(f"integration: {file.name} ({profile})", file=sys.stderr, flush=True)
    process = subprocess.Popen(command, start_new_session=True, env=env)
    try:
        return process.wait(timeout=FILE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        print(
            f"integration: {file.name} ({profile}) still running after {FILE_TIMEOUT_SECONDS} s: killed",
            file=sys.stderr,
        )
        return 124
    except KeyboardInterrupt:  # its own session gets no Ctrl-C from the terminal: pass it on
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def main(args: list[str]) -> int:
    profile = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if profile not in PROFILES:
        print(f"integration: {PROFILE_ENV}={profile!r}: use one of {', '.join(PROFILES)}", file=sys.stderr)
        return 2
    other = next(p for p in PROFILES if p != profile)
    runs = []
    for file in sorted(HERE.glob("test_*.py")):
        runs.append((file, profile))
        if file.name in BOTH_PROFILES:
            runs.append((file, other))
    failed = []
    for file, file_profile in runs:
        code = run_file(file, args, file_profile)
        if code not in (0, 5):  # 5: every test of the file deselected by the given arguments
            failed.append(f"{file.name} ({file_profile})")
    if failed:
        print(f"integration: failures in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
