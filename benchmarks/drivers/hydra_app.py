"""A trivial `@hydra.main` app: its start-up time, with and without our launcher plugin installed,
is the import cost the plugin adds to every Hydra app (Hydra imports every `hydra_plugins` module)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path=None, config_name=None)
def main(cfg: DictConfig) -> None:
    del cfg


if __name__ == "__main__":
    main()
