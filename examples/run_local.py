"""Run the walkthrough pipeline locally from Python: one run, then a 6-job sweep (model x lr) with its report.

    python examples/run_local.py        # works from any directory

hydra_run/hydra_sweep resolve config_path against the current working directory,
so the conf directory is passed as an absolute path built from this file's location.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")

HERE = Path(__file__).resolve().parent
CONF_DIR = str(HERE / "conf")
# Hydra writes a log and config snapshot per job; keep them next to this file, not in the cwd.
RUN_DIR = f"hydra.run.dir={HERE}/outputs/run_local"
SWEEP_DIR = f"hydra.sweep.dir={HERE}/multirun/run_local"
sys.path.insert(0, str(HERE))  # so `import train` works from any cwd

from train import pipeline  # noqa: E402

from hydra_flyte import hydra_run, hydra_sweep  # noqa: E402


def main() -> None:
    # Prints the run's summary (stdout) and returns its value (a RunResult: float(...) for the number).
    hydra_run(
        pipeline,
        config_path=CONF_DIR,
        config_name="training",
        overrides=["optimizer.lr=0.01", RUN_DIR],
        dataset="digits",
        mode="local",
    )

    models, lrs = ["resnet", "vit"], ["0.001", "0.01", "0.1"]
    results = hydra_sweep(
        pipeline,
        config_path=CONF_DIR,
        config_name="training",
        overrides=["model=" + ",".join(models), "optimizer.lr=" + ",".join(lrs), SWEEP_DIR],
        dataset="digits",
        mode="local",
        report=True,  # flyte-sweep-report.html beside the manifest (needs hydra-flyte-core[report])
    )
    # The summary (each job's value, the best marked) is printed; the results follow the sweep order.
    jobs = [(model, lr) for model in models for lr in lrs]
    _, (model, lr) = min(zip((float(r) for r in results), jobs, strict=True))
    print(f"next: train model={model} with optimizer.lr={lr} for longer")


if __name__ == "__main__":
    main()
