"""A launch's repeated `flyte.init_from_config()`: the same configuration initialises flyte once.

The guide's `main` calls `flyte.init_from_config()` in every job. Each call reads the config file,
builds a new control-plane client on the SDK's event loop and replaces flyte's configuration, which
also throws away what a sweep builds once for all its submissions (the task spec is keyed by it):
about as much time as the submissions themselves. While a remote launch runs, `flyte.init_from_config`
is wrapped: a call whose arguments resolve to the same configuration as the previous call of the
launch (the `flyte.config.Config` flyte would read, with the environment's overrides, the other
arguments and the working directory, which flyte defaults `root_dir` to), while flyte still holds
the configuration that call produced, returns at once, because it would set exactly what is set.
Anything else (another file, endpoint, project, root directory; a `flyte.init(...)` in between)
calls flyte's own function. Each submission is pinned to the configuration current when its job
called `flyte.run` (`remote.submit.submit`), so a job that changes it changes it for its own runs and
later ones only, as when every job submitted at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra_flyte.compat.flyte_private import INIT_CONFIG, current_init_config


def _resolved_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """What `init_from_config(*args, **kwargs)` would set, as text; None if it cannot be told beforehand."""
    import flyte.config

    path = args[0] if args else kwargs.get("path_or_config")
    root_dir = args[1] if len(args) > 1 else kwargs.get("root_dir")
    if path is None:
        cfg: Any = flyte.config.auto()
    elif isinstance(path, (str, os.PathLike)):
        file = Path(root_dir).expanduser() / path if root_dir else Path(path).expanduser()
        if not file.exists():
            return None  # flyte's own call says what is wrong
        cfg = flyte.config.auto(file)
    else:
        cfg = path  # a Config object: its current contents
    rest = (args[1:], sorted(kwargs.items(), key=lambda item: item[0]))
    return repr((cfg, rest, os.getcwd()))


class ReusedInitFromConfig:
    """Stands in for `flyte.init_from_config` during a launch (see the module docstring)."""

    def __init__(self, original: Any) -> None:
        self._original = original
        self._lock = threading.Lock()
        self._last: tuple[str, Any] | None = None  # (key, the init config that call produced)
        self.reused = 0  # calls answered without re-initialising (tests)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            key = _resolved_key(args, kwargs) if INIT_CONFIG.available() else None
        except Exception:  # noqa: BLE001 - whatever it is, flyte's own call reports it
            key = None
        with self._lock:
            last = self._last
        if key is not None and last is not None and last[0] == key and last[1] is not None:
            if current_init_config() is last[1]:
                self.reused += 1
                return None
        result = self._original(*args, **kwargs)
        produced = current_init_config() if key is not None else None
        with self._lock:
            self._last = (key, produced) if key is not None else None
        return result

    def __getattr__(self, name: str) -> Any:  # `.aio` and the rest: flyte's own
        return getattr(self._original, name)


@contextlib.contextmanager
def init_from_config_reused() -> Iterator[ReusedInitFromConfig]:
    """While active, `flyte.init_from_config` re-initialises flyte only when the configuration changes."""
    import flyte

    original = flyte.init_from_config
    wrapper = ReusedInitFromConfig(original)
    flyte.init_from_config = wrapper  # type: ignore[assignment]
    try:
        yield wrapper
    finally:
        if flyte.init_from_config is wrapper:
            flyte.init_from_config = original  # type: ignore[assignment]
