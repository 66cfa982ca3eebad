"""Hydra launcher plugin: `hydra/launcher=flyte` runs every job of a `@hydra.main` app as a Flyte run.

Hydra imports this module on every app start (plugin discovery), so it stays light: it stores
the config option and names the launcher class; flyte itself is imported only when jobs run.

- `hydra.launcher` gets core's FlyteLauncherConf (`mode`, `wait`, `wait_max_workers`,
  `run_options`), whose `_target_` is `hydra_plugins._hydra_flyte_core.FlyteLauncher`.
- Importing that class here puts it among this module's members, which is how Hydra's scan
  finds and registers it (Hydra instantiates only launchers it registered).
- The option also adds a callback under `hydra.callbacks`, which gives a single run (no
  `--multirun`; Hydra calls no launcher then) the same mode and waiting.
- `MisspelledOverrideHints`, a search-path plugin that adds no path: Hydra runs it as an app
  starts, before the app's config is composed, which is the one moment code of ours runs before
  that composition. It has core wrap Hydra's config loader so that a misspelled override of an
  app on `hydra/launcher=flyte` gets `Did you mean 'optimizer.lr'?` under Hydra's error.
"""

import sys

from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra_flyte.launcher_config import FlyteLauncherConf, register_launcher_config
from hydra_plugins._hydra_flyte_core import FlyteLauncher

__all__ = ["FlyteLauncher", "FlyteLauncherConf", "MisspelledOverrideHints"]


class MisspelledOverrideHints(SearchPathPlugin):
    """Adds no search path; gets misspelled overrides of apps on hydra/launcher=flyte a suggestion."""

    def manipulate_search_path(self, search_path: object) -> None:
        from hydra_flyte.integration import hint_misspelled_overrides

        # A Hydra without the loader class: warn only where the launcher is asked for on the command line.
        hint_misspelled_overrides(warn=any("hydra/launcher=flyte" in arg for arg in sys.argv))


register_launcher_config(provider="hydra-flyte-launcher")
