"""A @hydra.main app in the guide's pattern over tests-integration/conf, for the launcher's remote tests.

`task=objective` (default) or `task=fails_for_sgd` picks the entry task.
"""

from __future__ import annotations

import flyte
import hydra
from hydra_tasks import fails_for_sgd, objective
from omegaconf import DictConfig

from hydra_flyte import apply_task_env

TASKS = {"objective": objective, "fails_for_sgd": fails_for_sgd}


@hydra.main(version_base=None, config_path="conf", config_name="training")
def main(cfg: DictConfig):  # noqa: ANN201 - returns whatever flyte.run returns in this job
    flyte.init_from_config()
    entry_task = apply_task_env(TASKS[cfg.get("task", "objective")], cfg)
    return flyte.run(entry_task, cfg=cfg)


if __name__ == "__main__":
    main()
