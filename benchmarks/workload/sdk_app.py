"""The same sweep through our Python SDK, as a whole process: `python sdk_app.py N`."""

from __future__ import annotations

import sys

import flyte
from bench_tasks import objective

from hydra_flyte import hydra_sweep

if __name__ == "__main__":
    flyte.init_from_config()
    runs = hydra_sweep(
        objective,
        config_path="conf",
        config_name="bench",
        overrides=[f"x=range(0,{sys.argv[1]})"],
        wait=False,
    )
    print(f"{len(runs)} runs submitted", file=sys.stderr)
