"""Run each integration test file in a pytest process of its own (what `hatch run test:integration` does).

Each file gets a fresh loopback control plane and a fresh in-process Flyte SDK: a file that stops
and restarts a control plane, or SIGKILLs sweeps mid-watch, cannot leave later files' watchers
hanging. Extra arguments go to every pytest run; the exit status is non-zero if any run failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(args: list[str]) -> int:
    files = sorted(HERE.glob("test_*.py"))
    failed = []
    for file in files:
        code = subprocess.call([sys.executable, "-m", "pytest", str(file), *args])
        if code not in (0, 5):  # 5: every test of the file deselected by the given arguments
            failed.append(file.name)
    if failed:
        print(f"integration: failures in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
