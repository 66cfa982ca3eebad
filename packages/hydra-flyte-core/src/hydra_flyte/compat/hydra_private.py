"""Every use of Hydra internals in hydra_flyte, in one place (tested in tests/test_core_hydra_private.py).

Three behaviours of hydra-core 1.3 are relied on here (and by `engine.registration`, through public API):
- `Plugins.instantiate_launcher` accepts only classes from modules under `hydra_plugins.` that its
  registry knows. hydra-flyte-launcher gets ours discovered; with only hydra-flyte-core installed,
  `engine.registration.ensure_launcher_registered` registers it with `Plugins.instance().register`.
- The `Hydra` object behind `GlobalHydra` (`hydra._internal.hydra.Hydra`) offers `run` and `multirun`,
  which run Hydra's full runtime (sweepers, callbacks, output dirs) without argv parsing.
- `Sweeper.validate_batch_is_legal` (used by BasicSweeper and the Optuna sweeper before each
  launch) composes every job of the batch with `load_sweep_config` and drops the result.

A `@hydra.main` app composes its config before any launcher or callback of ours runs, so the
hint for a misspelled override (`compose.hints`) reaches its error only by wrapping the public
`load_configuration` of Hydra's `ConfigLoaderImpl`; without that class the app gets Hydra's error alone.

Fast paths, each with the public way as fallback (checked at first use; one warning when a
release moved the symbol):
- `ConfigLoaderImpl._apply_overrides_to_config` and `get_overrides_dirname` let a sweep compose a
  job by applying its value overrides to a copy of an already composed config; without them each
  job is composed in full by Hydra's config loader (`load_sweep_config`).
- hydra_flyte's job runner (`compose/job_runner.py`, which needs `hydra.core.utils._check_hydra_context`,
  `_flush_loggers`, `hydra._internal.deprecation_warning` and OmegaConf's `_utils` helpers) does
  Hydra's per-job bookkeeping for less; without it, Hydra's own `hydra.core.utils.run_job` does.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
from collections.abc import Iterator
from typing import Any

from hydra_flyte.compat.fallback import Private, expect

VERSION_BASE = "1.3"


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
            app = GlobalHydra.instance().hydra
            if not all(callable(getattr(app, name, None)) for name in ("run", "multirun")):
                # Hydra's only programmatic entry to its runtime (sweepers, callbacks, output dirs):
                # there is no public path to fall back on, so say exactly what is missing.
                from hydra_flyte.compat.fallback import installed_version
                from hydra_flyte.errors import ConfigurationError

                raise ConfigurationError(
                    f"hydra-core {installed_version('hydra-core')} has no GlobalHydra.instance().hydra.run/multirun, "
                    "which hydra_run and hydra_sweep drive: install a supported hydra-core (>=1.3.2,<1.4)."
                )
            yield app
    finally:
        global_hydra.clear()
        if saved_hydra is not None:
            global_hydra.initialize(saved_hydra)
        HydraConfig.instance().cfg = saved_hydra_cfg  # type: ignore[assignment]
        VersionBase.instance().version_base = saved_version_base  # may be Hydra's "unspecified" marker


def _apply_overrides() -> Any:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    apply = ConfigLoaderImpl._apply_overrides_to_config
    params = list(inspect.signature(apply).parameters)
    expect(params == ["overrides", "cfg"], f"takes {params}, not (overrides, cfg)")
    return apply


def _overrides_dirname() -> Any:
    from hydra._internal.config_loader_impl import get_overrides_dirname

    params = set(inspect.signature(get_overrides_dirname).parameters)
    expect({"overrides", "kv_sep", "item_sep", "exclude_keys"} <= params, f"takes {sorted(params)}")
    return get_overrides_dirname


_FULL_COMPOSE = "each job of a sweep is composed in full by Hydra's config loader"
APPLY_OVERRIDES = Private(
    "hydra._internal.config_loader_impl.ConfigLoaderImpl._apply_overrides_to_config",
    "hydra-core",
    _apply_overrides,
    fallback=_FULL_COMPOSE,
)
OVERRIDES_DIRNAME = Private(
    "hydra._internal.config_loader_impl.get_overrides_dirname",
    "hydra-core",
    _overrides_dirname,
    fallback=_FULL_COMPOSE,
)


def _config_loader_class() -> Any:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    params = list(inspect.signature(ConfigLoaderImpl.load_configuration).parameters)
    expect(params[:4] == ["self", "config_name", "overrides", "run_mode"], f"load_configuration{params}")
    return ConfigLoaderImpl


CONFIG_LOADER = Private(
    "hydra._internal.config_loader_impl.ConfigLoaderImpl.load_configuration", "hydra-core", _config_loader_class,
    fallback="a misspelled override of a @hydra.main app gets Hydra's error without the closest name",
    consequence="the same error, less help",
)  # fmt: skip


def config_loader_class(*, warn: bool = True) -> Any:
    """The class of Hydra's config loader (whose `load_configuration` composes every config), or None."""
    return CONFIG_LOADER.get(warn=warn)


def value_overrides_applicable() -> bool:
    """True if this Hydra lets a job be composed by applying value overrides (else: compose in full)."""
    return APPLY_OVERRIDES.available() and OVERRIDES_DIRNAME.available()


def apply_value_overrides(overrides: list[Any], cfg: Any) -> None:
    """Apply parsed value overrides (set, +, ++, ~) exactly as Hydra's config loader does."""
    APPLY_OVERRIDES.get()(overrides, cfg)


def overrides_dirname(overrides: list[Any], cfg: Any) -> str:
    """`hydra.job.override_dirname` for these app overrides, with the config's separators and exclusions."""
    settings = cfg.hydra.job.config.override_dirname
    return OVERRIDES_DIRNAME.get()(
        overrides=overrides,
        kv_sep=settings.kv_sep,
        item_sep=settings.item_sep,
        exclude_keys=settings.exclude_keys,
    )


# What hydra_flyte's job runner imports from Hydra and OmegaConf (module, name) beyond their public API.
JOB_RUNNER_HYDRA = (
    ("hydra.core.utils", "_check_hydra_context"),
    ("hydra.core.utils", "_flush_loggers"),
    ("hydra._internal.deprecation_warning", "deprecation_warning"),
)


def _importable(names: tuple[tuple[str, str], ...]) -> Any:
    def find() -> bool:
        for module, name in names:
            expect(
                callable(getattr(importlib.import_module(module), name)), f"{module}.{name} is not callable"
            )
        return True

    return find


_HYDRAS_RUN_JOB = "Hydra's own hydra.core.utils.run_job runs each job"
JOB_RUNNER_HYDRA_SYMBOLS = Private(
    ", ".join(f"{m}.{n}" for m, n in JOB_RUNNER_HYDRA), "hydra-core", _importable(JOB_RUNNER_HYDRA),
    fallback=_HYDRAS_RUN_JOB,
)  # fmt: skip


def job_runner_hydra() -> Any:
    """JOB_RUNNER_HYDRA's functions as attributes (check_hydra_context, flush_loggers, deprecation_warning).

    For hydra_flyte's job runner, imported only once `job_runner` found them (JOB_RUNNER_HYDRA_SYMBOLS).
    """
    from types import SimpleNamespace

    return SimpleNamespace(
        **{
            name.lstrip("_"): getattr(importlib.import_module(module), name)
            for module, name in JOB_RUNNER_HYDRA
        }
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


def _job_return_value() -> Any:
    from hydra.core.utils import JobReturn

    ret = JobReturn()
    expect("_return_value" in vars(ret), "JobReturn() has no _return_value attribute")
    ret.return_value = 1
    expect(vars(ret)["_return_value"] == 1, "JobReturn.return_value does not set _return_value")
    return True


RETURN_VALUE = Private(
    "hydra.core.utils.JobReturn._return_value", "hydra-core", _job_return_value,
    fallback="a failed job's error is read by catching what JobReturn.return_value raises",
)  # fmt: skip


def job_value(ret: Any) -> Any:
    """What a job returned, or for a failed job the exception it ended with (Hydra's `return_value` raises it)."""
    if RETURN_VALUE.get() is not None:
        return ret._return_value
    try:
        return ret.return_value
    except Exception as exc:  # noqa: BLE001 - a failed job's return_value raises its own error
        return exc
