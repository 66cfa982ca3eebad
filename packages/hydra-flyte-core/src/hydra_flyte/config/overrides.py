"""Override strings: parse them with Hydra's own grammar, and tell app overrides from Hydra's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hydra_flyte.errors import ConfigurationError


def is_hydra_override(override: str) -> bool:
    """True for overrides of Hydra's own config: `hydra.run.dir=...`, `hydra/sweeper=optuna`, `hydra=...`
    (after any `+`, `++` or `~` prefix)."""
    key = override.lstrip("+~").split("=", 1)[0]
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def normalise(overrides: Iterable[str] | str | None) -> list[str]:
    """A list of override strings; a single string is one override, not a sequence of characters."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    result = []
    for override in overrides:
        if not isinstance(override, str):
            raise ConfigurationError(
                f"overrides must be strings like 'optimizer.lr=0.01', got {override!r} ({type(override).__name__})."
            )
        result.append(override)
    return result


def parse(overrides: Sequence[str]) -> list[object]:
    """Parse with Hydra's override grammar; a syntax error names the override and what is wrong."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for override in overrides:
        try:
            parsed.extend(parser.parse_overrides([override]))
        except OverrideParseException as exc:
            raise ConfigurationError(
                f"override {override!r} is not valid Hydra override syntax: {exc}. "
                "Forms: key=value, group=option, +key=value, ++key=value, ~key, key=a,b,c."
            ) from exc
    return parsed


def sweep_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that sweep (comma lists, range(), choice(), interval() ...)."""
    return [
        text for text, parsed in zip(overrides, parse(overrides), strict=True) if parsed.is_sweep_override()
    ]  # type: ignore[attr-defined]
