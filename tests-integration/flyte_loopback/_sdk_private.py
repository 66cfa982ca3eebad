"""The only place the loopback fixture touches private `flyte` symbols (pinned: flyte 2.12.1).

flyte has no public "de-initialize": `flyte.init()` stores its config in the module global
`flyte._initialize._init_config` and appends root_dir to `sys.path`. Tests that call
`flyte.init()` in-process snapshot and restore that global so one test's client does not leak
into the next. `test_sdk_private_symbols_exist` fails loudly if this moves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import flyte._initialize as _flyte_initialize

INIT_CONFIG_ATTR = "_init_config"


def current_init_config() -> Any:
    """The raw module-global init config (None when flyte is not initialized)."""
    return getattr(_flyte_initialize, INIT_CONFIG_ATTR)


@contextmanager
def restored_flyte_init() -> Iterator[None]:
    """Restore flyte's global init config and sys.path on exit, undoing any `flyte.init()` inside."""
    saved_config = current_init_config()
    saved_path = list(sys.path)
    try:
        yield
    finally:
        with _flyte_initialize._init_lock:
            setattr(_flyte_initialize, INIT_CONFIG_ATTR, saved_config)
        sys.path[:] = saved_path
