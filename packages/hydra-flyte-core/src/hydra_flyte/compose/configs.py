"""Per-job composition that reuses work between the jobs of a sweep, and gives Hydra's exact configs.

Hydra composes every job of a sweep from scratch (defaults list, YAML loading, merging), and its
BasicSweeper does it twice per job (once to validate the batch, once to launch). The validation
only checks that each job composes and drops the config, so `ReusingConfigLoader` keeps those
configs and hands each, unused, to the launcher when it composes the same job of the same
master config (`load_job_config`). Jobs that differ
only in value overrides (`key=value`, `+key=`, `++key=`, `~key`) share everything but those
values, so `ReusingConfigLoader` composes each distinct *base* once (the master's Hydra overrides
plus the job's group selections) and, per job, deep-copies the base, applies the value overrides
with Hydra's own function, and redoes Hydra's per-job bookkeeping (`hydra.overrides.task`,
`hydra.job.override_dirname`). Anything else (an override naming a config group, a package
override, a Hydra override) falls back to Hydra's own composition.
"""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Sequence
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write
from omegaconf.errors import OmegaConfBaseException

from hydra_flyte.compat.hydra_private import (
    apply_value_overrides,
    called_from_batch_validation,
    config_group_exists,
    overrides_dirname,
    value_overrides_applicable,
)

#: Kept configs are moved out of the collector's passes (`freeze_kept`) every this many.
_FREEZE_EVERY = 64


class ReusingConfigLoader(ConfigLoader):
    """A ConfigLoader that composes sweep jobs from a shared base; other calls go to Hydra's loader."""

    def __init__(self, inner: ConfigLoader) -> None:
        self._inner = inner
        self._parser = OverridesParser.create()
        self._bases: dict[tuple[Any, ...], _Base] = {}
        self._parsed: dict[str, Any] = {}  # override string -> Hydra's parsed Override (immutable)
        self._is_group: dict[str, bool] = {}
        # Configs composed for Sweeper.validate_batch_is_legal, by (id(master), overrides); each
        # entry keeps its master alive, so an id cannot be reused while the entry exists.
        self._validated: dict[tuple[int, tuple[str, ...]], list[tuple[DictConfig, DictConfig]]] = {}
        self.stats = {"reused": 0, "full": 0, "validated_and_launched": 0}
        self._kept = 0

    # -- the interface Hydra calls -------------------------------------------------------------
    def load_configuration(
        self,
        config_name: str | None,
        overrides: list[str],
        run_mode: RunMode,
        from_shell: bool = True,
        validate_sweep_overrides: bool = True,
    ) -> DictConfig:
        return self._inner.load_configuration(
            config_name=config_name,
            overrides=overrides,
            run_mode=run_mode,
            from_shell=from_shell,
            validate_sweep_overrides=validate_sweep_overrides,
        )

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        cfg = self._compose_job(master_config, sweep_overrides)
        if called_from_batch_validation():  # dropped by the validation: keep it for the launch
            key = (id(master_config), tuple(sweep_overrides))
            self._validated.setdefault(key, []).append((master_config, cfg))
            self._kept += 1
            if self._kept % _FREEZE_EVERY == 0:
                from hydra_flyte.compose.heap import freeze_kept

                freeze_kept()
        return cfg

    def load_job_config(self, master_config: DictConfig, sweep_overrides: Sequence[str]) -> DictConfig:
        """A job's config for its launch: the one composed when its batch was validated, or a new one."""
        key = (id(master_config), tuple(sweep_overrides))
        kept = self._validated.get(key)
        if kept:
            master, cfg = kept.pop(0)
            if not kept:
                del self._validated[key]
            if master is master_config:
                # As if composed now: the master's resolver cache may have grown since (say,
                # the `${now:}` of the sweep dir), and a launch-time composition copies it.
                OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
                self.stats["validated_and_launched"] += 1
                return cfg
        return self._compose_job(master_config, sweep_overrides)

    def forget_validated(self) -> None:
        """Drop the configs kept from batch validations (the launcher calls it after each launch)."""
        self._validated.clear()

    def _compose_job(self, master_config: DictConfig, sweep_overrides: Sequence[str]) -> DictConfig:
        try:
            return self._compose(master_config, list(sweep_overrides))
        except Exception as exc:  # Hydra's own error; remember which job it was, suggest what was meant
            exc.job_overrides = list(sweep_overrides)  # type: ignore[attr-defined]
            if isinstance(exc, ConfigCompositionException):
                from hydra_flyte.compose.hints import add_hint

                hydra_overrides = list(OmegaConf.to_container(master_config.hydra.overrides.hydra))  # type: ignore[arg-type]
                add_hint(
                    exc, loader=self._inner, config_name=master_config.hydra.job.config_name,
                    overrides=[*hydra_overrides, *sweep_overrides],
                )  # fmt: skip
            raise

    def get_search_path(self) -> Any:
        return self._inner.get_search_path()

    def get_sources(self) -> Any:
        return self._inner.get_sources()

    def list_groups(self, parent_name: str) -> list[str]:
        return self._inner.list_groups(parent_name)

    def get_group_options(
        self,
        group_name: str,
        results_filter: Any = None,
        config_name: str = "",
        overrides: list[str] | None = None,
    ) -> list[str]:
        return self._inner.get_group_options(group_name, results_filter, config_name, overrides)

    def compute_defaults_list(self, config_name: str | None, overrides: list[str], run_mode: RunMode) -> Any:
        return self._inner.compute_defaults_list(config_name, overrides, run_mode)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    # -- composition ---------------------------------------------------------------------------
    def _compose(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        hydra_overrides = list(OmegaConf.to_container(master_config.hydra.overrides.hydra))  # type: ignore[arg-type]
        parsed = [self._parse(text) for text in sweep_overrides]
        structural = [o for o in parsed if not self._is_value_override(o)]
        if (
            any(o.is_hydra_override() or o.package is not None for o in structural)
            or not value_overrides_applicable()
        ):
            self.stats["full"] += 1
            return self._inner.load_sweep_config(master_config, sweep_overrides)
        values = [o for o in parsed if self._is_value_override(o)]
        cfg = self._base(master_config, hydra_overrides, [o.input_line for o in structural]).copy()
        try:
            apply_value_overrides(values, cfg)
        except OmegaConfBaseException as exc:
            raise ConfigCompositionException().with_traceback(sys.exc_info()[2]) from exc
        with read_write(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in parsed]
            cfg.hydra.job.override_dirname = overrides_dirname(parsed, cfg)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        self.stats["reused"] += 1
        return cfg

    def _parse(self, text: str) -> Any:
        parsed = self._parsed.get(text)
        if parsed is None:
            (parsed,) = self._parser.parse_overrides([text])
            self._parsed[text] = parsed
        return parsed

    def _is_value_override(self, override: Any) -> bool:
        if override.is_hydra_override() or override.package is not None:
            return False
        key = override.key_or_group
        if key not in self._is_group:
            self._is_group[key] = config_group_exists(self._inner, key)
        return not self._is_group[key]

    def _base(
        self, master_config: DictConfig, hydra_overrides: Sequence[str], structural: Sequence[str]
    ) -> _Base:
        key = (master_config.hydra.job.config_name, tuple(hydra_overrides), tuple(structural))
        base = self._bases.get(key)
        if base is None:
            base = _Base(
                self._inner.load_configuration(
                    config_name=master_config.hydra.job.config_name,
                    overrides=[*hydra_overrides, *structural],
                    run_mode=RunMode.RUN,
                )
            )
            self._bases[key] = base
        return base


class _Base:
    """A composed base config that hands out independent copies.

    Unpickling a pickled config is about four times faster than `copy.deepcopy`, and OmegaConf
    supports both with the same result; configs whose structured types cannot be pickled (a
    dataclass defined inside a function) are deep-copied instead.
    """

    def __init__(self, cfg: DictConfig) -> None:
        self._cfg = cfg
        try:
            self._blob: bytes | None = pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # pickling fails for unimportable structured-config classes
            self._blob = None

    def copy(self) -> DictConfig:
        if self._blob is not None:
            return pickle.loads(self._blob)  # noqa: S301 - our own bytes, made in this process
        return copy.deepcopy(self._cfg)
