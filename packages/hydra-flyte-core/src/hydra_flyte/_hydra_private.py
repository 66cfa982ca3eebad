"""Every use of Hydra internals in hydra_flyte, in one place (tested in tests/test_hydra_private.py).

Three behaviours of hydra-core 1.3 are relied on here:
- `Plugins.instantiate_launcher` accepts only classes from modules under `hydra_plugins.` that its
  registry knows. hydra-flyte-launcher gets ours discovered; with only hydra-flyte-core installed,
  `register_core_launcher` registers it with `Plugins.instance().register`.
- The `Hydra` object behind `GlobalHydra` (`hydra._internal.hydra.Hydra`) offers `run` and `multirun`,
  which run Hydra's full runtime (sweepers, callbacks, output dirs) without argv parsing.
- `Sweeper.validate_batch_is_legal` (used by BasicSweeper and the Optuna sweeper before each
  launch) composes every job of the batch with `load_sweep_config` and drops the result.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .launcher_config import LAUNCHER_GROUP, LAUNCHER_NAME, register_launcher_config

VERSION_BASE = "1.3"


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


@contextlib.contextmanager
def hydra_app(config_dir: str | None, *, job_name: str) -> Iterator[Any]:
    """Initialise Hydra for one SDK call and yield its `Hydra` object; restore any previous state after."""
    from hydra import initialize, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.version import VersionBase

    global_hydra = GlobalHydra.instance()
    saved_hydra = global_hydra.hydra if global_hydra.is_initialized() else None
    saved_hydra_cfg = HydraConfig.instance().cfg
    saved_version_base = VersionBase.instance().getbase()  # initialize() sets it for the process
    global_hydra.clear()
    try:
        if config_dir is None:
            context = initialize(version_base=VERSION_BASE, config_path=None, job_name=job_name)
        else:
            context = initialize_config_dir(
                version_base=VERSION_BASE, config_dir=config_dir, job_name=job_name
            )
        with context:
            yield GlobalHydra.instance().hydra
    finally:
        global_hydra.clear()
        if saved_hydra is not None:
            global_hydra.initialize(saved_hydra)
        HydraConfig.instance().cfg = saved_hydra_cfg  # type: ignore[assignment]
        VersionBase.instance().version_base = saved_version_base  # may be Hydra's "unspecified" marker


def apply_value_overrides(overrides: list[Any], cfg: Any) -> None:
    """Apply parsed value overrides (set, +, ++, ~) exactly as Hydra's config loader does."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def overrides_dirname(overrides: list[Any], cfg: Any) -> str:
    """`hydra.job.override_dirname` for these app overrides, with the config's separators and exclusions."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    settings = cfg.hydra.job.config.override_dirname
    return get_overrides_dirname(
        overrides=overrides,
        kv_sep=settings.kv_sep,
        item_sep=settings.item_sep,
        exclude_keys=settings.exclude_keys,
    )


def config_group_exists(config_loader: Any, name: str) -> bool:
    """True if `name` is a config group in the loader's search path (e.g. `optimizer`, `db/mysql`)."""
    repository = getattr(config_loader, "repository", None)
    if repository is None:
        return True  # unknown loader: treat everything as structural, so callers fall back to Hydra
    return bool(repository.group_exists(name))


def called_from_batch_validation() -> bool:
    """True if the caller of the function calling this is Hydra's `Sweeper.validate_batch_is_legal`.

    That function composes each job only to check that it composes and keeps nothing, so a
    config it asked for may be handed, unused, to the launcher composing the same job.
    """
    from hydra.plugins.sweeper import Sweeper

    return sys._getframe(2).f_code is Sweeper.validate_batch_is_legal.__code__
