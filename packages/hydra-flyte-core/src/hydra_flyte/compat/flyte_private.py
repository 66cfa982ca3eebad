"""Every use of the Flyte SDK's private symbols in hydra_flyte, in one place.

Tested in tests/test_core_flyte_private.py, which fails loudly if the SDK moves them.

- `flyte._code_bundle._utils._file_is_in_directory`: the bundle's file list checks every loaded
  module's file against each of about six directories (site-packages, the prefixes, the source
  root), resolving both paths (`Path.resolve`, a `lstat` per path component) on every check:
  some 4,700 resolutions for 1,000 modules, about a third of a second of a sweep's start. While
  a sweep's submissions run, that check resolves each distinct path once (same answers: the
  paths do not move during the listing).
- `flyte._initialize.get_client` (and the client's `console.endpoint`): the endpoint the SDK was
  initialised with, so that a dead one is named (and found in seconds, by a TCP probe) before
  anything is submitted. flyte has no public accessor for it.
- `flyte._run._Runner._build_task_spec_from_template`: every remote `flyte.run` of a local task
  rebuilds its wire spec (deploy plan, image lookups, the bundle, serialising the task and
  hashing its source for the cache version): about a fifth of a submission's time, with the
  same result for every job of a sweep. It is also the only place a remote `flyte.run` builds
  the code bundle (`build_code_bundle`, listing every loaded module), so the bundle is built
  once a sweep too (memoising the bundle builder itself saved nothing: benchmarks/RESULTS.md,
  section 9). It is memoised per task, run settings it reads
  (`TASK_SPEC_RUNNER_FIELDS`) and `flyte.init` configuration. `flyte.run` only reads the spec
  it gets back (filling in ids that are the same for every job), copying it into its requests.
- `flyte._initialize._get_init_config` and `init_config_context`: which `flyte.init*`
  configuration is current, and running a submission under a given one. A launch's submissions
  run after the job that asked for them (held, then pooled), so each is pinned to the
  configuration current when its job called `flyte.run`; and a job's repeated
  `flyte.init_from_config()` with an unchanged configuration is recognised as a no-op
  (`remote/repeated_init.py`). Without them, every call re-initialises flyte and each submission uses
  the configuration current when it is sent.

Each of the two patched ones is checked when a sweep starts its submissions (present, async or not as
expected, the task spec builder reading no setting outside the memo's key). One that a flyte
release moved or reshaped is left alone: flyte builds that part for every run, as without this
module (slower, same runs), after one warning naming the symbol and the flyte version. Patching
is all or nothing per symbol and undone on any failure, so no wrapper outlives its sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hydra_flyte.compat.fallback import Private, expect

BUNDLE_UTILS_MODULE = "flyte._code_bundle._utils"
IN_DIRECTORY_CHECK = "_file_is_in_directory"
RUN_MODULE = "flyte._run"
RUNNER_CLASS = "_Runner"
TASK_SPEC_BUILDER = "_build_task_spec_from_template"
# Every `self._...` the task spec builder reads (tests/test_core_flyte_private.py compares).
TASK_SPEC_RUNNER_FIELDS = (
    "_bundle_from_dir", "_bundle_relative_paths", "_copy_bundle_to", "_copy_files", "_custom_context",
    "_disable_run_cache", "_domain", "_dry_run", "_interactive_mode", "_project", "_version",
)  # fmt: skip
# What the task spec memo's key reads from flyte._run besides the builder.
RUN_MODULE_HELPERS = ("get_init_config", "_ambient_image_cache")

INITIALIZE_MODULE = "flyte._initialize"
CLIENT_GETTER = "get_client"

_lock = threading.Lock()
_depth = 0
_active: list[tuple[Any, str, Any]] = []  # (owner, name, original) of what is patched now


def _directory_check() -> tuple[Any, str]:
    utils = importlib.import_module(BUNDLE_UTILS_MODULE)
    check = getattr(utils, IN_DIRECTORY_CHECK)
    expect(
        callable(check) and not inspect.iscoroutinefunction(check), f"{IN_DIRECTORY_CHECK} is not a function"
    )
    expect(
        len(inspect.signature(check).parameters) == 2, f"{IN_DIRECTORY_CHECK} does not take (file, directory)"
    )
    return utils, IN_DIRECTORY_CHECK


def _code_names(code: Any) -> set[str]:
    """Every attribute or global name a code object (and the code nested in it) reads."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _task_spec_builder() -> tuple[Any, str]:
    run_module = importlib.import_module(RUN_MODULE)
    runner = getattr(run_module, RUNNER_CLASS)
    build = getattr(runner, TASK_SPEC_BUILDER)
    for helper in RUN_MODULE_HELPERS:
        expect(callable(getattr(run_module, helper)), f"{RUN_MODULE}.{helper} is not callable")
    expect(inspect.iscoroutinefunction(build), f"{TASK_SPEC_BUILDER} is not async")
    expect(len(inspect.signature(build).parameters) == 2, f"{TASK_SPEC_BUILDER} does not take (self, obj)")
    # A setting of the runner that the builder reads but the memo's key leaves out would give
    # every job the first job's spec: then the memo must not be used.
    settings = {
        n for n in _code_names(runner.__init__.__code__) if n.startswith("_") and not n.startswith("__")
    }
    unkeyed = (_code_names(build.__code__) & settings) - set(TASK_SPEC_RUNNER_FIELDS)
    expect(not unkeyed, f"{TASK_SPEC_BUILDER} reads settings the memo does not key on: {sorted(unkeyed)}")
    return runner, TASK_SPEC_BUILDER


_FALLBACK = "flyte builds it for every run of the sweep"
SYMBOLS = {
    "directory_check": Private(
        f"{BUNDLE_UTILS_MODULE}.{IN_DIRECTORY_CHECK}", "flyte", _directory_check, fallback=_FALLBACK, memo=False
    ),
    "task_spec": Private(
        f"{RUN_MODULE}.{RUNNER_CLASS}.{TASK_SPEC_BUILDER}", "flyte", _task_spec_builder, fallback=_FALLBACK,
        memo=False,
    ),
}  # fmt: skip


def configured_endpoint() -> str | None:
    """The endpoint of the Flyte client `flyte.init*` configured, or None (no client, or none known)."""
    import importlib

    try:
        client = getattr(importlib.import_module(INITIALIZE_MODULE), CLIENT_GETTER)()
    except Exception:  # not initialised
        return None
    console = getattr(client, "console", None)
    endpoint = getattr(console, "endpoint", None)
    return str(endpoint) if endpoint else None


@contextlib.contextmanager
def builds_shared_by_submissions() -> Iterator[None]:
    """While active, each distinct task spec (with its code bundle) is built once and then reused.

    Re-entrant across threads: the outermost entry patches, the last exit restores.
    """
    global _depth
    with _lock:
        if _depth == 0:
            _patch_all()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _restore_all()


def _patch_all() -> None:
    """Patch every usable symbol, or (on any failure) none: nothing is left wrapped."""
    wraps: dict[str, Callable[[Any], Any]] = {
        "directory_check": _resolving_once, "task_spec": _task_spec_memoised,
    }  # fmt: skip
    planned: list[tuple[Any, str, Any, Any]] = []
    for key, private in SYMBOLS.items():
        found = private.get()  # None (and one warning) when this flyte moved it: flyte's own path
        if found is None:
            continue
        owner, name = found
        original = getattr(owner, name)
        planned.append((owner, name, original, wraps[key](original)))
    try:
        for owner, name, original, wrapper in planned:
            setattr(owner, name, wrapper)
            _active.append((owner, name, original))
    except BaseException:
        _restore_all()
        raise


def _restore_all() -> None:
    while _active:
        owner, name, original = _active.pop()
        setattr(owner, name, original)


def _task_spec_memoised(build: Any) -> Any:
    """`_Runner._build_task_spec_from_template` built once per task, run settings and init config."""
    import importlib

    run_module = importlib.import_module(RUN_MODULE)
    cache: dict[Any, tuple[asyncio.Future[Any], Any]] = {}

    async def build_once(self: Any, obj: Any) -> Any:
        init_config = run_module.get_init_config()
        ambient = run_module._ambient_image_cache()  # inside a task pod: its parent's images
        settings = tuple(repr(getattr(self, field)) for field in TASK_SPEC_RUNNER_FIELDS)
        loop = asyncio.get_running_loop()  # a future is awaited on the loop that made it
        key = (id(obj), id(init_config), id(ambient), id(loop), settings)
        # The entry holds what the ids name, so no id is reused while it exists.
        return await _once(cache, key, lambda: build(self, obj), keep=(obj, init_config, ambient, loop))

    build_once.__wrapped__ = build  # type: ignore[attr-defined]
    return build_once


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


async def _once(
    cache: dict[Any, tuple[asyncio.Future[Any], Any]], key: Any, start: Any, *, keep: Any = None
) -> Any:
    """The result of `start()` for `key`, started by the first caller and shared by concurrent ones.

    `keep` is stored with the future (whatever must outlive it). A failed build is not reused:
    the next caller starts it again.
    """
    entry = cache.get(key)
    if entry is None:
        entry = cache[key] = (asyncio.ensure_future(start()), keep)
    try:
        return await asyncio.shield(entry[0])
    except Exception:
        cache.pop(key, None)
        raise


INIT_CONFIG_GETTER = "_get_init_config"
INIT_CONFIG_CONTEXT = "init_config_context"


def _init_config_accessors() -> tuple[Any, Any]:
    module = importlib.import_module(INITIALIZE_MODULE)
    getter, context = getattr(module, INIT_CONFIG_GETTER), getattr(module, INIT_CONFIG_CONTEXT)
    expect(
        callable(getter) and not inspect.iscoroutinefunction(getter),
        f"{INIT_CONFIG_GETTER} is not a function",
    )
    expect(not inspect.signature(getter).parameters, f"{INIT_CONFIG_GETTER} takes arguments")
    expect(len(inspect.signature(context).parameters) == 1, f"{INIT_CONFIG_CONTEXT} does not take (cfg)")
    return getter, context


INIT_CONFIG = Private(
    f"{INITIALIZE_MODULE}.{INIT_CONFIG_GETTER}", "flyte", _init_config_accessors,
    fallback="every flyte.init_from_config() of a launch re-initialises flyte, and each submission uses the "
    "configuration current when it is sent",
)  # fmt: skip


def current_init_config() -> Any:
    """The `flyte.init*` configuration in effect (an opaque object; None if not initialised or unknown)."""
    found = INIT_CONFIG.get()
    return None if found is None else found[0]()


@contextlib.contextmanager
def init_config_pinned(init_config: Any) -> Iterator[None]:
    """Run the body (a submission, on any thread) under `init_config`, whatever flyte.init does meanwhile."""
    found = INIT_CONFIG.get() if init_config is not None else None
    if found is None:
        yield
        return
    with found[1](init_config):
        yield
