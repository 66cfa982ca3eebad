"""The YAML snapshots of a job (`.hydra/config.yaml`, `hydra.yaml`, `overrides.yaml`), byte-identical to OmegaConf's, for less work.

Part of hydra_flyte's job runner (imported with it, once `compose.run_job.job_runner` found what both need).
Two speed tricks, each checked against OmegaConf's own output in tests/test_core_job_runner.py:

- the config is read into a container straight from its nodes (`unresolved_container`), not
  through OmegaConf's public accessors;
- the text is emitted by libyaml (`yaml.CDumper` carrying OmegaConf's representers) where the two
  emitters are known to agree (`_needs_python_emitter`: a hand-kept regex of the Unicode ranges
  where they differ), and each plain `key: value` entry's text is cached by its `repr`
  (`_EntryTexts`) across the jobs of a sweep.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from omegaconf import MISSING, DictConfig, ListConfig, UnionNode

from hydra_flyte.compat.omegaconf_private import CONTENT, job_runner_omegaconf

_oc = job_runner_omegaconf()  # bound once (see compose.job_runner)


def save_config(cfg: DictConfig | ListConfig, filename: str, output_dir: Path) -> None:
    """What Hydra's `_save_config` writes (the caller has made `output_dir`)."""
    with open(str(output_dir / filename), "w", encoding="utf-8") as file:
        file.write(to_yaml(cfg))


def to_yaml(cfg: DictConfig | ListConfig) -> str:
    """`OmegaConf.to_yaml(cfg)`, emitted by libyaml when available and known to give the same text."""
    container = unresolved_container(cfg)
    dumper = _fast_dumper()
    needs_python, plain = _scan(container)
    if dumper is None or needs_python:
        return _dump(container, _oc.get_omega_conf_dumper())
    if plain and isinstance(container, dict):
        return _entries.dump(container, dumper)
    return _dump(container, dumper)


def unresolved_container(cfg: DictConfig | ListConfig) -> Any:
    """`OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)`, read straight from the nodes.

    OmegaConf's version looks every child up through its public accessors (key validation,
    access checks, flag lookups up the parent chain); unresolved, each child is simply the node
    stored in the container's `_content`, which is what this walks. The same result, in about
    a fifth of the time.
    """
    if _oc.is_none(cfg):
        return None
    if _oc.is_missing(cfg):
        return MISSING
    if _oc.is_interpolation(cfg):
        return _oc.value(cfg)
    content = cfg.__dict__[CONTENT]
    if isinstance(cfg, DictConfig):
        out = {}
        for key, node in content.items():
            if isinstance(key, Enum):
                key = key.name
            out[key] = _unresolved_value(node)
        return out
    return [_unresolved_value(node) for node in content]


def _unresolved_value(node: Any) -> Any:
    if isinstance(node, UnionNode) and not _oc.is_special(node):
        node = _oc.value(node)  # the node it holds, as `_get_child` gives it
    if isinstance(node, (DictConfig, ListConfig)):
        return unresolved_container(node)
    value = _oc.value(node)
    return value.name if isinstance(value, Enum) else value


def _dump(container: Any, dumper: Any) -> str:
    return yaml.dump(  # type: ignore[no-any-return]
        container,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        Dumper=dumper,
    )


class _EntryTexts:
    """The YAML text of a mapping's entries, kept to be reused by the next dump that has them.

    The jobs of a sweep differ in a few entries: most of `hydra.yaml` (help, logging, launcher,
    sweeper, ...) and of `config.yaml` is the same text for every job. A block mapping is emitted
    entry by entry, each entry's text depending only on its key, its value and its indentation,
    so the text of a mapping is the concatenation of its entries' texts: the root's entries, and
    for a root entry holding a non-empty mapping (`hydra:`), that entry's own entries one level
    in. An entry is looked up by its depth and the `repr` of its key and value; `to_yaml` uses
    this only for plain data (dicts, lists, str, int, float, bool, None), where `repr` tells
    apart every two values that are emitted differently. Should an entry's text end with the
    document-end marker (`...`; OmegaConf's representers never choose the block styles that
    call for it), the whole mapping is dumped at once instead, since that marker belongs at
    the end only.
    """

    MAX_ENTRIES = 2048  # one sweep's shared entries and a few jobs' own; cleared when exceeded

    def __init__(self) -> None:
        self._texts: dict[tuple[Any, ...], str] = {}

    def dump(self, container: dict[Any, Any], dumper: Any) -> str:
        parts = []
        for key, value in container.items():
            if isinstance(value, dict) and value:
                parts.append(self._text(dumper, -1, key, None))  # the `key:` line
                parts.extend(self._text(dumper, 1, k, v) for k, v in value.items())
            else:
                parts.append(self._text(dumper, 0, key, value))
        if any(part.endswith("...\n") for part in parts):
            return _dump(container, dumper)
        return "".join(parts)

    def _text(self, dumper: Any, depth: int, key: Any, value: Any) -> str:
        memo_key = (dumper, depth, repr(key), repr(value))
        text = self._texts.get(memo_key)
        if text is None:
            if depth == -1:  # the header line of a mapping entry: the key, whatever the mapping holds
                text = _dump({key: {"k": None}}, dumper).split("\n", 1)[0] + "\n"
            elif depth == 0:
                text = _dump({key: value}, dumper)
            else:  # one level in: under a one-line header, dropped again
                text = _dump({"k": {key: value}}, dumper).split("\n", 1)[1]
            if len(self._texts) >= self.MAX_ENTRIES:
                self._texts.clear()
            self._texts[memo_key] = text
        return text


_entries = _EntryTexts()


# Where libyaml's emitter and PyYAML's differ (found by tests/test_core_job_runner.py's comparison):
# - characters PyYAML prints but libyaml escapes (U+0085, anything above U+FFFF), and every string
#   that needs double quotes (control characters, U+FEFF, U+FFFE/U+FFFF...): the two fold long
#   double-quoted strings at different columns;
# - keys: '' and long keys (PyYAML writes them as `? key` complex keys from 128 characters on,
#   libyaml from 129 UTF-8 bytes on), and keys with line breaks (libyaml also counts '\r' as one).
# - strings PyYAML double-quotes although all their characters are printable: a space next to a
#   line break (' \n', '\n '), so again the folding of long double-quoted strings.
# Other strings made only of the characters below emit the same text; anything else uses PyYAML.
_UNSAFE_CHAR = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_MAX_SIMPLE_KEY = 128  # below this many characters and UTF-8 bytes, both emitters take a key as simple


def _key_length(key: str) -> int:
    return len(key) if key.isascii() else len(key.encode("utf-8"))


def _double_quoted(s: str) -> bool:
    return "\n" in s and (" \n" in s or "\n " in s)


def _needs_python_emitter(container: Any) -> bool:
    """True if some string in `container` could be emitted differently by libyaml and PyYAML."""
    return _scan(container)[0]


_PLAIN_SCALARS = (str, int, float, bool, type(None))  # types whose repr determines their YAML


def _scan(container: Any) -> tuple[bool, bool]:
    """(needs PyYAML's emitter, holds only plain data): see `_needs_python_emitter` and `_EntryTexts`."""
    unsafe = _UNSAFE_CHAR.search
    plain = True
    stack = [container]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str):
                    if not key or _key_length(key) >= _MAX_SIMPLE_KEY or "\n" in key or unsafe(key):
                        return True, False
                elif type(key) not in _PLAIN_SCALARS:
                    plain = False
            values: Any = node.values()
        elif isinstance(node, list):
            values = node
        else:
            continue
        for value in values:
            if isinstance(value, str):
                if unsafe(value) or _double_quoted(value):
                    return True, False
            elif isinstance(value, (dict, list)):
                stack.append(value)
            elif type(value) not in _PLAIN_SCALARS:
                plain = False
    return False, plain


_fast_dumper_cache: list[Any] = []  # [(source representer dicts snapshot, dumper class)]


def _fast_dumper() -> Any:
    """A `yaml.CDumper` subclass with OmegaConf's representers and resolvers, or None without libyaml."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    source = _oc.get_omega_conf_dumper()
    tables = (
        dict(source.yaml_representers),
        dict(source.yaml_multi_representers),
        {k: list(v) for k, v in source.yaml_implicit_resolvers.items()},
    )
    if _fast_dumper_cache and _fast_dumper_cache[0][0] == tables:
        return _fast_dumper_cache[0][1]

    class OmegaConfCDumper(yaml.CDumper):  # type: ignore[misc,name-defined]
        pass

    OmegaConfCDumper.yaml_representers = dict(tables[0])
    OmegaConfCDumper.yaml_multi_representers = dict(tables[1])
    OmegaConfCDumper.yaml_implicit_resolvers = {k: list(v) for k, v in tables[2].items()}
    _fast_dumper_cache[:] = [(tables, OmegaConfCDumper)]
    return OmegaConfCDumper
