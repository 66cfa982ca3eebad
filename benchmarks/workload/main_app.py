"""The guide's `@hydra.main` pattern on the benchmark's task: `flyte.init_from_config()` then `flyte.run`.

    python main_app.py --multirun hydra/launcher=flyte hydra.launcher.wait=false "x=range(0,200)"

The same script runs with our launcher plugin (hydra-flyte-launcher) and with flyteplugins-hydra's.
"""

from __future__ import annotations

import flyte
import hydra
from bench_tasks import objective
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="bench")
def main(cfg: DictConfig):  # noqa: ANN201 - whatever flyte.run returns in this job
    flyte.init_from_config()
    return flyte.run(objective, cfg=cfg)


if __name__ == "__main__":
    main()
