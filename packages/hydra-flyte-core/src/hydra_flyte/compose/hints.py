"""Misspelled overrides: Hydra's own composition error, plus the closest key, group or option it meant.

Hydra says `Could not override 'optimizer.lrr'` (or `Could not delete from config. 'x' does not
exist`, or `Could not find 'model/vitt'` with the group's options) and stops there. `add_hint`
appends one line, `Did you mean 'optimizer.lr'?`, found with difflib among:

- for a key: the keys of the config the other overrides compose (so `optimizer=sgd
  optimizer.momentm=0.5` finds sgd's `momentum`), preferring the siblings of the key's parent, and
  the config groups (a misspelled group is read by Hydra as a key: `modle=vit` -> `model`);
- for a group's option: the group's options (`model=vitt` -> `model=vit`).

Nothing close, a message of another kind, or any trouble finding the names: no line. A hint is a
courtesy and never replaces or hides Hydra's error; Hydra's own line breaks are kept.

Where it is added: the SDK (and so the CLI) when Hydra's composition fails (`sdk.prepare.composition_error`);
a sweep's job composed by `compose.configs.ReusingConfigLoader`; and a `@hydra.main` app's own
composition, which runs before any code of a launcher: `hint_misspelled_overrides` (called by
hydra-flyte-launcher's search-path plugin, which Hydra runs as an app starts) wraps Hydra's config
loader so that its errors get the hint when the app runs on `hydra/launcher=flyte`.
"""

from __future__ import annotations

import difflib
import functools
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

HINT_PREFIX = "Did you mean"

_OVERRIDE = re.compile(r"Could not override '([^']+)'")
_DELETE = re.compile(r"Could not delete from config\. '([^']+)' does not exist")
_FIND = re.compile(r"Could not find '([^']+)/([^'/]+)'")


def add_hint(exc: BaseException, *, loader: Any, config_name: str | None, overrides: Sequence[str]) -> bool:
    """Append the hint line to `exc`'s message (in place, so its type, cause and traceback stay); True if added."""
    message = str(exc)
    hint = override_hint(message, loader=loader, config_name=config_name, overrides=overrides)
    if not hint or len(exc.args) > 1:
        return False
    exc.args = (f"{message}\n{hint}",)
    return True


def override_hint(message: str, *, loader: Any, config_name: str | None, overrides: Sequence[str]) -> str:
    """`Did you mean '...'?` for Hydra's composition error `message`, or '' (see the module docstring)."""
    if HINT_PREFIX in message:
        return ""
    try:
        found = _FIND.search(message)
        if found:
            group, option = found.groups()
            match = _closest(option, loader.get_group_options(group))
            return f"{HINT_PREFIX} '{group}={match}'?" if match else ""
        found = _OVERRIDE.search(message) or _DELETE.search(message)
        if not found:
            return ""
        key = found.group(1)
        match = _closest_key(key, _known_names(loader, config_name, overrides, leaving_out=key))
        return f"{HINT_PREFIX} '{match}'?" if match else ""
    except Exception:  # noqa: BLE001 - whatever goes wrong, Hydra's error stands as it is
        return ""


def _closest(word: str, choices: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return match[0] if match else None


def _closest_key(key: str, names: set[str]) -> str | None:
    """The name closest to `key`: a sibling under its parent (itself matched first when misspelled)."""
    names.discard(key)
    parent, _, leaf = key.rpartition(".")
    if not parent:
        return _closest(key, [n for n in names if "." not in n])
    if parent not in names:
        parent = _closest(parent, [n for n in names if n.count(".") == parent.count(".")]) or ""
        if not parent:
            return None
    children = [
        n[len(parent) + 1 :] for n in names if n.startswith(parent + ".") and "." not in n[len(parent) + 1 :]
    ]
    match = _closest(leaf, children)
    return f"{parent}.{match}" if match else None


def _known_names(
    loader: Any, config_name: str | None, overrides: Sequence[str], *, leaving_out: str
) -> set[str]:
    """Every key path of the config the other overrides compose (Hydra's own section aside), and the groups."""
    from omegaconf import OmegaConf

    cfg = _compose_without(loader, config_name, overrides, leaving_out)
    names: set[str] = set()
    if cfg is not None:
        plain = OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False)
        _walk({k: v for k, v in plain.items() if k != "hydra"}, "", names)  # type: ignore[union-attr]
    names.update(_groups(loader, ""))
    return names


def _walk(node: Any, prefix: str, names: set[str]) -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        path = f"{prefix}{key}"
        names.add(path)
        _walk(value, f"{path}.", names)


def _groups(loader: Any, parent: str, depth: int = 0) -> set[str]:
    """Config group paths under `parent` (Hydra's own `hydra/...` groups left out), two levels deep."""
    found: set[str] = set()
    for name in loader.list_groups(parent):
        path = f"{parent}/{name}" if parent else name
        if path == "hydra":
            continue
        found.add(path)
        if depth < 1:
            found |= _groups(loader, path, depth + 1)
    return found


def _compose_without(loader: Any, config_name: str | None, overrides: Sequence[str], key: str) -> Any:
    """The config of every override but the one of `key` (and sweeps); with Hydra's overrides alone if that fails."""
    from hydra.types import RunMode

    from hydra_flyte.config.overrides import parse

    parsed: list[Any] = parse(overrides)
    kept = [o for o in parsed if o.key_or_group != key and not o.is_sweep_override()]
    attempts = [[o.input_line for o in kept], [o.input_line for o in kept if o.is_hydra_override()]]
    for attempt in attempts:
        try:
            return loader.load_configuration(config_name=config_name, overrides=attempt, run_mode=RunMode.RUN)
        except Exception:  # noqa: BLE001 - another bad override among them: try with fewer
            continue
    return None


# -- a @hydra.main app's own composition -------------------------------------------------------------

_install_lock = threading.Lock()
_installed: list[bool] = []


def hint_misspelled_overrides(*, warn: bool = False) -> bool:
    """Give the errors of Hydra's own compositions in this process the hint, for apps on hydra/launcher=flyte.

    Wraps `load_configuration` of Hydra's config loader class, once per process; an app on another
    launcher keeps Hydra's errors unchanged. False when this Hydra has no such class (then one
    warning if `warn`).
    """
    from hydra.errors import ConfigCompositionException

    from hydra_flyte.compat.hydra_private import config_loader_class

    with _install_lock:
        if _installed:
            return True
        loader_class = config_loader_class(warn=warn)
        if loader_class is None:
            return False
        original = loader_class.load_configuration

        @functools.wraps(original)
        def load_configuration(
            self: Any, config_name: Any, overrides: Any, run_mode: Any, *args: Any, **kwargs: Any
        ) -> Any:
            try:
                return original(self, config_name, overrides, run_mode, *args, **kwargs)
            except ConfigCompositionException as exc:  # MissingConfigException is one too
                unhinted = _Unhinted(self, original)
                if _runs_on_flyte(unhinted, config_name, list(overrides)):
                    add_hint(exc, loader=unhinted, config_name=config_name, overrides=list(overrides))
                raise

        loader_class.load_configuration = load_configuration
        _installed.append(True)
        return True


class _Unhinted:
    """A config loader whose `load_configuration` is Hydra's own (the hint composes without recursing)."""

    def __init__(self, loader: Any, original: Any) -> None:
        self._loader = loader
        self.load_configuration = functools.partial(original, loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def _runs_on_flyte(loader: Any, config_name: str | None, overrides: list[str]) -> bool:
    """True if these overrides select hydra/launcher=flyte, or the app's own config does."""
    from hydra.types import RunMode

    from hydra_flyte.config.overrides import is_hydra_override

    if any(o.lstrip("+").replace(" ", "") == "hydra/launcher=flyte" for o in overrides):
        return True
    try:
        hydra_only = [o for o in overrides if is_hydra_override(o)]
        cfg = loader.load_configuration(config_name=config_name, overrides=hydra_only, run_mode=RunMode.RUN)
        return cfg.hydra.runtime.choices.get("hydra/launcher") == "flyte"
    except Exception:  # noqa: BLE001 - cannot tell: leave Hydra's error as it is
        return False
