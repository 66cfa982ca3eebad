"""A script that runs one hydra_sweep over tests-integration/conf, for tests that kill or interrupt it.

python sweep_driver.py SWEEP_DIR NAME N [key=value ...]   (extra keywords go to hydra_sweep)
"""

from __future__ import annotations

import json
import sys

import flyte
from hydra_tasks import objective

from hydra_flyte import hydra_sweep


def main() -> None:
    sweep_dir, name, jobs, *extra = sys.argv[1:]
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in extra)}
    flyte.init_from_config()
    lrs = ",".join(str(i + 1) for i in range(int(jobs)))
    hydra_sweep(
        objective, config_path="conf", config_name="training",
        overrides=[f"optimizer.lr={lrs}", f"hydra.sweep.dir={sweep_dir}"],
        run_options={"name": name}, **options,
    )  # fmt: skip


if __name__ == "__main__":
    main()
