"""Hydra launcher plugin: `hydra/launcher=flyte` runs every job of a `@hydra.main` app as a Flyte run.

Hydra imports this module on every app start (plugin discovery), so it stays light: it stores
the config option and names the launcher class; flyte itself is imported only when jobs run.

- `hydra.launcher` gets core's FlyteLauncherConf (`mode`, `wait`, `wait_max_workers`,
  `run_options`), whose `_target_` is `hydra_plugins._hydra_flyte_core.FlyteLauncher`.
- Importing that class here puts it among this module's members, which is how Hydra's scan
  finds and registers it (Hydra instantiates only launchers it registered).
- The option also adds a callback under `hydra.callbacks`, which gives a single run (no
  `--multirun`; Hydra calls no launcher then) the same mode and waiting.
"""

from hydra_flyte.launcher_config import FlyteLauncherConf, register_launcher_config
from hydra_plugins._hydra_flyte_core import FlyteLauncher

__all__ = ["FlyteLauncher", "FlyteLauncherConf"]

register_launcher_config(provider="hydra-flyte-launcher")
