"""The search space, sampler, directions and objective values of `hydra/sweeper=optuna_async`.

Everything here speaks Optuna's public API only (`trial.suggest_*`, `optuna.samplers.*`), so one
code path serves Optuna 2.10 through 5.x. The grammar is that of `hydra/sweeper=optuna`:

- `interval(a, b)`: a float (an int if both ends are ints); `tag(log, interval(a, b))` on a log scale.
- `range(a, b[, step])`: ints (floats if any part is a float) from a to b in steps; as with
  `hydra/sweeper=optuna`, b is a possible value for the samplers (Optuna's bounds are inclusive),
  while a grid takes the values below b. `shuffle(range(...))` is a choice among its values.
- `choice(a, b, ...)`: one of the values.
- anything else (`key=value`): a fixed value, given to every trial (and kept as a user attribute).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra_flyte.errors import ConfigurationError

OPTUNA_PIP = 'pip install "hydra-flyte-core[optuna]"'
OPTUNA_RANGE = ">=2.10,<6"
MIN_OPTUNA = (2, 10)
# Keys of a sampler node that are Hydra's instantiation flags, not sampler arguments.
_HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def require_optuna() -> Any:
    """The optuna module, or a ConfigurationError with the pip line that installs a supported one."""
    try:
        import optuna
    except ImportError as exc:
        raise ConfigurationError(
            f"hydra/sweeper=optuna_async needs optuna, which is not installed: {OPTUNA_PIP} "
            f"(optuna{OPTUNA_RANGE})."
        ) from exc
    version = _version_tuple(getattr(optuna, "__version__", "0"))
    if version < MIN_OPTUNA:
        raise ConfigurationError(
            f"hydra/sweeper=optuna_async needs optuna{OPTUNA_RANGE}, found {optuna.__version__}: {OPTUNA_PIP}"
        )
    return optuna


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a float or int range (optionally log or stepped) or a set of choices."""

    name: str
    kind: str  # "float", "int" or "categorical"
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            step = 1 if self.step is None else int(self.step)
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """The values a grid sampler tries for this dimension (discrete dimensions only)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.log or (self.kind == "float" and self.step is None):
            raise ConfigurationError(
                f"the grid sampler needs discrete dimensions, but {self.name} is a continuous "
                f"{'log ' if self.log else ''}interval [{self.low}, {self.high}]: use choice(...) or range(...) "
                "for it, or another sampler (hydra/sweeper/sampler=tpe)."
            )
        step = 1 if self.step is None else self.step
        count = int((self.high - self.low) // step)
        return [self.low + i * step for i in range(count)]


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions Optuna searches and the fixed values every trial gets, in override order."""

    dimensions: tuple[Dimension, ...]
    fixed: tuple[tuple[str, str], ...]

    def grid(self) -> dict[str, list[Any]]:
        return {d.name: d.grid_values() for d in self.dimensions}

    def grid_size(self) -> int:
        size = 1
        for values in self.grid().values():
            size *= len(values)
        return size


def _dimension_from_override(override: Any) -> Dimension | None:
    """A Dimension for a sweep override (None for a plain value)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep, Transformer

    if not override.is_sweep_override():
        return None
    name = override.get_key_element()
    value = override.value()

    def encoded() -> tuple[Any, ...]:
        values = tuple(override.sweep_iterator(transformer=Transformer.encode))
        for item in values:
            if not isinstance(item, (str, int, float, bool, type(None))):
                raise ConfigurationError(
                    f"{name}: a choice takes strings, numbers, booleans or null, got {item!r} ({type(item).__name__})."
                )
        return values

    if isinstance(value, ChoiceSweep):
        return Dimension(name, "categorical", choices=encoded())
    if isinstance(value, RangeSweep):
        if value.shuffle:
            return Dimension(name, "categorical", choices=encoded())
        step = 1 if value.step is None else value.step
        if any(isinstance(x, float) for x in (value.start, value.stop, step)):
            return Dimension(name, "float", low=float(value.start), high=float(value.stop), step=float(step))
        return Dimension(name, "int", low=int(value.start), high=int(value.stop), step=int(step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return Dimension(name, "int", low=value.start, high=value.end, log=log)
        return Dimension(name, "float", low=float(value.start), high=float(value.end), log=log)
    raise ConfigurationError(
        f"{override.input_line!r}: the optuna_async sweeper searches interval(...), range(...) and choice(...); "
        "use one of those, or a single value."
    )


def _dimension_from_config(name: str, node: Mapping[str, Any]) -> Dimension:
    """A Dimension from the deprecated `search_space` form ({type, low, high, log, step, choices})."""
    kind = str(node.get("type", "")).rsplit(".", 1)[-1]
    if kind == "categorical":
        return Dimension(name, kind, choices=tuple(node.get("choices") or ()))
    if kind in ("int", "float") and node.get("low") is not None and node.get("high") is not None:
        cast = int if kind == "int" else float
        step = node.get("step")
        return Dimension(
            name, kind, low=cast(node["low"]), high=cast(node["high"]), log=bool(node.get("log", False)),
            step=None if step is None else cast(step),
        )  # fmt: skip
    raise ConfigurationError(
        f"hydra.sweeper.search_space.{name}: needs type int or float with low and high, or type categorical "
        f"with choices; got {dict(node)!r}. (Prefer hydra.sweeper.params with interval/range/choice.)"
    )


def build_search_space(
    params: Mapping[str, Any] | None, arguments: Sequence[str], search_space: Mapping[str, Any] | None = None
) -> SearchSpace:
    """The search space from `hydra.sweeper.params`, then the command line's overrides (later wins)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = [f"{key}={value}" for key, value in (params or {}).items()]
    lines.extend(arguments)
    dimensions: dict[str, Dimension] = {}
    if search_space and not params:
        for name, node in search_space.items():
            dimensions[str(name)] = _dimension_from_config(str(name), node)
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(lines):
        dimension = _dimension_from_override(override)
        name = override.get_key_element()
        if dimension is None:
            fixed[name] = override.get_value_element_as_str()
            dimensions.pop(name, None)
        else:
            dimensions[name] = dimension
            fixed.pop(name, None)
    return SearchSpace(dimensions=tuple(dimensions.values()), fixed=tuple(fixed.items()))


def directions_of(direction: Any) -> list[str]:
    """The study's directions: a list of 'minimize'/'maximize' from a string, an enum or a list of them."""
    items = (
        list(direction) if isinstance(direction, Sequence) and not isinstance(direction, str) else [direction]
    )
    result = []
    for item in items:
        name = str(getattr(item, "name", item)).lower()
        if name not in ("minimize", "maximize"):
            raise ConfigurationError(
                f"hydra.sweeper.direction: {item!r} is not a direction: use minimize or maximize "
                "(or a list of them, one per objective)."
            )
        result.append(name)
    if not result:
        raise ConfigurationError(
            "hydra.sweeper.direction is empty: use minimize, maximize or a list of them."
        )
    return result


def _plain(value: Any) -> Any:
    """A config value as plain Python, nested `_target_` nodes instantiated (e.g. an independent sampler)."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping) and "_target_" in value:
        from hydra.utils import instantiate

        return instantiate(dict(value))
    return value


def build_sampler(node: Any, space: SearchSpace, optuna: Any) -> Any:
    """The sampler a `hydra.sweeper.sampler` node names, given only the settings that are set.

    Works with this package's sampler nodes and with hydra-optuna-sweeper's. A setting the
    installed Optuna's sampler does not take fails with its name and the version.
    """
    if node is None:
        return None
    from omegaconf import DictConfig, OmegaConf

    settings = OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else dict(node)
    target = str(settings.get("_target_") or "")
    module_name, _, class_name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        offered = sorted(
            n for n in dir(optuna.samplers) if n.endswith("Sampler") and not n.startswith("Base")
        )
        raise ConfigurationError(
            f"hydra.sweeper.sampler: {target!r} is not available in optuna {optuna.__version__} "
            f"(its samplers: {', '.join(offered)}): choose another with hydra/sweeper/sampler=..."
        ) from exc
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    for key, value in settings.items():
        if key in _HYDRA_KEYS or value is None:
            continue
        if key not in accepted:
            raise ConfigurationError(
                f"hydra.sweeper.sampler.{key}={value!r}: {class_name} of optuna {optuna.__version__} has no such "
                f"setting (it takes: {', '.join(k for k in accepted if k != 'search_space')}): remove it."
            )
        kwargs[key] = _plain(node[key]) if isinstance(node, DictConfig) else value
    if getattr(optuna.samplers, "GridSampler", None) is cls:
        kwargs["search_space"] = space.grid()
    return cls(**kwargs)


def is_grid_sampler(sampler: Any, optuna: Any) -> bool:
    return isinstance(sampler, optuna.samplers.GridSampler)


def objective_values(value: Any, n_objectives: int) -> list[float]:
    """The objective value(s) of a finished job's return value; ValueError when they are not numbers."""
    from hydra_flyte.results import RunResult

    if n_objectives == 1:
        try:
            return [float(value)]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the trial's value must be a number, got {_short(value)}: {exc}") from exc
    items = value
    if isinstance(value, RunResult):
        items = value.outputs
        if len(items) == 1 and isinstance(items[0], (list, tuple)):
            items = items[0]
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"with {n_objectives} directions the trial must return {n_objectives} numbers, got {_short(value)}"
        ) from exc
    if len(values) != n_objectives:
        raise ValueError(
            f"with {n_objectives} directions the trial must return {n_objectives} numbers, got {len(values)}: {values}"
        )
    return values


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
