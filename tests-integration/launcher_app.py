"""A @hydra.main app in the guide's pattern over tests-integration/conf, for the launcher's remote tests.

`+task=objective` (default), `+task=fails_for_sgd` or `+task=slow_objective` (with `+seconds=S`; needs
slow_tasks.py beside it) picks the entry task. `+runs_in_main=N` calls
`flyte.run` N times in `main` (returning the last run) and `+wait_in_main=true` waits on the run
inside `main` and returns its outputs.
"""

from __future__ import annotations

import flyte
import hydra
from hydra_tasks import fails_for_sgd, objective
from omegaconf import DictConfig

from hydra_flyte import apply_task_env

TASKS = {"objective": objective, "fails_for_sgd": fails_for_sgd}


def _task(name: str):  # noqa: ANN202 - a flyte task
    if name == "slow_objective":
        from slow_tasks import slow_objective

        return slow_objective
    return TASKS[name]


@hydra.main(version_base=None, config_path="conf", config_name="training")
def main(cfg: DictConfig):  # noqa: ANN201 - returns whatever flyte.run returns in this job
    flyte.init_from_config()
    entry_task = apply_task_env(_task(cfg.get("task", "objective")), cfg)
    kwargs = {"seconds": float(cfg.seconds)} if "seconds" in cfg else {}
    runs = [flyte.run(entry_task, cfg=cfg, **kwargs) for _ in range(cfg.get("runs_in_main", 1))]
    if len(runs) > 1:
        print(f"runs in main: {' '.join(run.name for run in runs)}")
    if cfg.get("wait_in_main", False):
        run = runs[-1]
        run.wait(quiet=True)
        print(f"waited in main: {run.name} {run.phase} {run.outputs()[0]}")
        return run.outputs()[0]
    return runs[-1]


if __name__ == "__main__":
    main()
