"""Where a standalone benchmark's figures come from: the commit measured and the versions of what it ran."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path


def commit(repo: Path) -> str:
    """The short commit of `repo`'s HEAD ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def versions(*packages: str) -> dict[str, str]:
    """Each package's installed version ("not installed" when absent), and Python's."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found
