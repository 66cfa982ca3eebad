"""`hydra/launcher=flyte` usable with hydra-flyte-core alone: the launcher class and its config registered.

Hydra's public plugin registry and ConfigStore only; imported by the SDK when it launches a sweep.
"""

from __future__ import annotations

from hydra_flyte.launcher_config import LAUNCHER_GROUP, LAUNCHER_NAME, register_launcher_config


def ensure_launcher_registered() -> None:
    """Make `hydra/launcher=flyte` usable, whether or not hydra-flyte-launcher is installed."""
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    from hydra_plugins._hydra_flyte_core import FlyteLauncher

    plugins = Plugins.instance()  # discovery registers hydra-flyte-launcher's config, when installed
    plugins.register(FlyteLauncher)  # idempotent
    try:
        ConfigStore.instance().load(f"{LAUNCHER_GROUP}/{LAUNCHER_NAME}.yaml")
    except Exception:  # ConfigLoadError: not stored yet
        register_launcher_config(provider="hydra-flyte-core")
