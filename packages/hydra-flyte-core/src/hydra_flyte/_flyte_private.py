"""Every use of the Flyte SDK's private symbols in hydra_flyte, in one place.

Tested in tests/test_core_flyte_private.py, which fails loudly if the SDK moves them.

- `flyte._code_bundle.build_code_bundle`: a remote `flyte.run` rebuilds (or re-fingerprints) the
  code bundle on every call, listing every loaded module (about 250 ms). Within one sweep the
  bundle does not change, so `code_bundle_built_once` memoises the builder for the sweep's
  submissions: every run gets the same bundle the first one built, through the SDK's own path.
  Modules imported after the first submission are not in later jobs' bundles, exactly as if the
  sweep had been submitted in one go.
- `flyte._code_bundle._utils._file_is_in_directory`: the bundle's file list checks every loaded
  module's file against each of about six directories (site-packages, the prefixes, the source
  root), resolving both paths (`Path.resolve`, a `lstat` per path component) on every check:
  some 4,700 resolutions for 1,000 modules, about a third of a second of a sweep's start. While
  a sweep's submissions run, that check resolves each distinct path once (same answers: the
  paths do not move during the listing).
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

BUNDLE_MODULE = "flyte._code_bundle"
BUNDLE_BUILDER = "build_code_bundle"
BUNDLE_UTILS_MODULE = "flyte._code_bundle._utils"
IN_DIRECTORY_CHECK = "_file_is_in_directory"

_lock = threading.Lock()
_depth = 0


@contextlib.contextmanager
def code_bundle_built_once() -> Iterator[None]:
    """While active, each distinct code bundle request is built once and then reused."""
    import importlib

    global _depth
    module = importlib.import_module(BUNDLE_MODULE)
    utils = importlib.import_module(BUNDLE_UTILS_MODULE)
    with _lock:
        _depth += 1
        if _depth == 1:
            setattr(module, BUNDLE_BUILDER, _memoised(getattr(module, BUNDLE_BUILDER)))
            setattr(utils, IN_DIRECTORY_CHECK, _resolving_once(getattr(utils, IN_DIRECTORY_CHECK)))
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for owner, name in ((module, BUNDLE_BUILDER), (utils, IN_DIRECTORY_CHECK)):
                    setattr(owner, name, getattr(owner, name).__wrapped__)


def _resolving_once(check: Any) -> Any:
    """`_file_is_in_directory(file, directory)` with each path resolved once (errors: False, as there)."""
    resolved: dict[str, pathlib.Path] = {}

    def resolve(path: str) -> pathlib.Path:
        found = resolved.get(path)
        if found is None:
            found = resolved[path] = pathlib.Path(path).resolve()
        return found

    def in_directory(file: str, directory: str) -> bool:
        try:
            return resolve(file).is_relative_to(resolve(directory))
        except OSError:  # unresolvable (permissions, a symlink loop): not in the directory, as flyte says
            return False

    in_directory.__wrapped__ = check  # type: ignore[attr-defined]
    return in_directory


def _memoised(build: Any) -> Any:
    """An async wrapper of `build` that builds each (arguments) combination once."""
    cache: dict[Any, asyncio.Future[Any]] = {}

    async def build_once(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("dryrun") or kwargs.get("copy_bundle_to") is not None:
            return await build(*args, **kwargs)
        key = (args, tuple(sorted(kwargs.items())))
        future = cache.get(key)
        if future is None:
            future = asyncio.ensure_future(build(*args, **kwargs))
            cache[key] = future
        try:
            return await asyncio.shield(future)
        except Exception:
            cache.pop(key, None)  # a failed build is not reused
            raise

    build_once.__wrapped__ = build  # type: ignore[attr-defined]
    return build_once
