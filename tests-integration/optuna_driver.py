"""One optuna_async hydra_sweep of optuna_tasks.timed_objective, for tests that kill or interrupt it.

python optuna_driver.py SWEEP_DIR STORAGE N_TRIALS N_JOBS [override ...] [resume=SWEEP]
The trials' sleep and lr are searched (random sampler, seed 7); prints the results' values (JSON).
"""

from __future__ import annotations

import json
import sys

import flyte
from optuna_tasks import timed_objective

from hydra_flyte import hydra_sweep


def main() -> None:
    sweep_dir, storage, n_trials, n_jobs, *extra = sys.argv[1:]
    resume = [item.split("=", 1)[1] for item in extra if item.startswith("resume=")]
    overrides = [item for item in extra if not item.startswith("resume=")]
    flyte.init_from_config()
    results = hydra_sweep(
        timed_objective, config_path="conf", config_name="training",
        overrides=["hydra/sweeper=optuna_async", f"hydra.sweeper.n_trials={n_trials}",
                   f"hydra.sweeper.n_jobs={n_jobs}", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=7",
                   f"hydra.sweeper.storage={storage}", "optimizer.lr=interval(0.01,1.0)",
                   "+sleep=interval(1.0,2.5)", f"hydra.sweep.dir={sweep_dir}", *overrides],
        resume=resume[0] if resume else None,
    )  # fmt: skip
    print(json.dumps([float(r) for r in results]), flush=True)


if __name__ == "__main__":
    main()
