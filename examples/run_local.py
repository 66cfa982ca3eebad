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
    result = hydra_run(
        pipeline,
        config_path=CONF_DIR,
        config_name="training",
        overrides=["optimizer.lr=0.01", RUN_DIR],
        dataset="digits",
        mode="local",
    )
    print(f"single run (optimizer.lr=0.01): val_loss = {float(result):.4f}")

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
    jobs = [(model, lr) for model in models for lr in lrs]  # results follow the sweep order
    for (model, lr), res in zip(jobs, results, strict=True):
        print(f"sweep model={model} optimizer.lr={lr}: val_loss = {float(res):.4f}")


if __name__ == "__main__":
    main()
