"""One remote hydra_sweep of slow_objective, for tests that stop the control plane while it waits.

python fault_driver.py SWEEP_DIR NAME N SECONDS [key=value ...]   (extra keywords go to hydra_sweep)
Exit 0 when every job succeeded, 1 with the error's message on stderr otherwise.
"""

from __future__ import annotations

import json
import sys

import flyte
from slow_tasks import slow_objective

from hydra_flyte import HydraFlyteError, hydra_sweep


def main() -> int:
    sweep_dir, name, jobs, seconds, *extra = sys.argv[1:]
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in extra)}
    flyte.init_from_config()
    lrs = ",".join(str(i + 1) for i in range(int(jobs)))
    try:
        results = hydra_sweep(
            slow_objective, config_path="conf", config_name="training",
            overrides=[f"optimizer.lr={lrs}", f"hydra.sweep.dir={sweep_dir}"],
            run_options={"name": name}, seconds=float(seconds), **options,
        )  # fmt: skip
    except HydraFlyteError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps([r.value for r in results]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
