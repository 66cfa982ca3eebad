"""The Kubernetes client's quantity parser, loaded without importing the whole client.

`kubernetes.utils.parse_quantity` is public, but importing it runs `kubernetes/__init__.py`,
which imports the generated API client and its config loaders: about 0.7 s. Resource values of
every job of a sweep are checked with it, so the module that defines it
(`kubernetes/utils/quantity.py`, which imports only `decimal`) is loaded on its own, from the
installed package's files. That file's location is the one thing relied on here; when it is not
where flyte 2.12's supported kubernetes releases keep it, or the loaded module has no
`parse_quantity`, the public import is used instead (slower, same parser).
tests/test_core_kubernetes_private.py fails loudly if the fast path stops applying.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

QUANTITY_FILE = ("utils", "quantity.py")
PARSER_NAME = "parse_quantity"
_LOADED_AS = "hydra_flyte._kubernetes_quantity"

_cache: list[Callable[[Any], Decimal] | None] = []


def quantity_parser() -> Callable[[Any], Decimal] | None:
    """`kubernetes.utils.parse_quantity`, or None when the kubernetes client is not installed."""
    if not _cache:
        _cache.append(_find_parser())
    return _cache[0]


def loaded_from_file() -> bool:
    """True if the parser came from the quantity module alone (the fast path), not the public import."""
    parser = quantity_parser()
    return parser is not None and getattr(parser, "__module__", None) == _LOADED_AS


def _find_parser() -> Callable[[Any], Decimal] | None:
    utils = sys.modules.get("kubernetes.utils")
    if utils is not None:  # the client is imported already: nothing to save
        return getattr(utils, PARSER_NAME)  # type: ignore[no-any-return]
    try:
        spec = importlib.util.find_spec("kubernetes")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        path = Path(location).joinpath(*QUANTITY_FILE)
        parser = _load(path) if path.is_file() else None
        if parser is not None:
            return parser
    from kubernetes.utils import parse_quantity  # the public way, if the file moved

    return parse_quantity  # type: ignore[no-any-return]


def _load(path: Path) -> Callable[[Any], Decimal] | None:
    file_spec = importlib.util.spec_from_file_location(_LOADED_AS, path)
    if file_spec is None or file_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(file_spec)
    try:
        file_spec.loader.exec_module(module)
    except Exception:  # it imports something else now: use the public import
        return None
    parser = getattr(module, PARSER_NAME, None)
    return parser if callable(parser) else None
