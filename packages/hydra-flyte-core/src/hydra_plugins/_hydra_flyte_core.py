"""FlyteLauncher under Hydra's plugin namespace, where Hydra requires launcher classes to live.

The leading underscore keeps Hydra's plugin scan from importing this module on every app start.
hydra-flyte-launcher makes it discoverable for `@hydra.main` apps; with hydra-flyte-core alone,
hydra_flyte registers it itself when the SDK or the CLI launch a sweep.
"""

from hydra_flyte.engine.launcher import FlyteLauncher as _FlyteLauncher


class FlyteLauncher(_FlyteLauncher):
    """Runs every job of a Hydra sweep as a Flyte run (see hydra_flyte.engine.launcher)."""
