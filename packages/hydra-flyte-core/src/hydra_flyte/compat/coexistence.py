"""Installed beside flyteplugins-hydra: say so once, plainly, with the fix.

flyteplugins-hydra registers the same `flyte hydra` CLI command name and the same
`hydra/launcher=flyte` option as hydra-flyte, so with both installed whichever Flyte or Hydra
loads last answers, and a user cannot tell which. The first use of either in a process checks
for its distribution (importlib.metadata, a few milliseconds) and prints one line to stderr.
"""

from __future__ import annotations

import sys
import threading

OTHER = "flyteplugins-hydra"
_lock = threading.Lock()
_checked = False


def warn_if_other_plugin_installed() -> bool:
    """Print the warning once per process if flyteplugins-hydra is installed; True if it is."""
    global _checked
    with _lock:
        if _checked:
            return False
        _checked = True
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        other = distribution(OTHER)
    except PackageNotFoundError:
        return False
    print(
        f"hydra-flyte: {OTHER} {other.version} is installed too. It registers the same `flyte hydra` "
        "command and `hydra/launcher=flyte` option as hydra-flyte, so which package answers depends on "
        f"load order. Use one of them: `pip uninstall {OTHER}` to keep hydra-flyte.",
        file=sys.stderr,
        flush=True,
    )
    return True


def forget() -> None:
    """Check again at next use (tests)."""
    global _checked
    with _lock:
        _checked = False
