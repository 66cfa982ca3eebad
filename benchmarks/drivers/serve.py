"""Serve the integration suite's loopback Flyte control plane in its own process, for one driver.

Usage: python serve.py STATE_DIR HOME {queued,off} ROOT_SLOTS

Prints one JSON line (endpoint, project, domain, org) once serving, then serves until stdin
closes, prints one JSON line with the number of runs it recorded and the CPU time it used, and
exits. Runs in whichever
venv the driver uses, so executed tasks run under that venv's `a0`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(_REPO / "tests-integration"))

from flyte_loopback import ControlPlane  # noqa: E402


def main() -> None:
    state_dir, home, record_only, root_slots = sys.argv[1:5]
    cp = ControlPlane(Path(state_dir), home=Path(home), root_slots=int(root_slots)).start()
    cp.faults.set_record_only(record_only)  # type: ignore[arg-type]
    print(
        json.dumps({"endpoint": cp.endpoint, "project": cp.project, "domain": cp.domain, "org": cp.org}),
        flush=True,
    )
    try:
        sys.stdin.read()
    finally:
        created = len(cp.requests.created_runs())
        phases: dict[str, int] = {}
        for run in cp.runs.values():
            phases[run.phase] = phases.get(run.phase, 0) + 1
        summary = {"created_runs": created, "phases": phases, "cpu_seconds": time.process_time()}
        print(json.dumps(summary), flush=True)
        cp.close()


if __name__ == "__main__":
    main()
