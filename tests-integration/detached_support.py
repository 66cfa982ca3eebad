"""What the detached-sweep test files share: a control plane with room for child actions, a project copy, the CLI, a run's children."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyte_loopback import Action, ControlPlane

HERE = Path(__file__).resolve().parent
FLYTE = Path(sys.executable).parent / "flyte"  # the venv's console script, as a user would run it
SMALL = ("--config-path", "conf", "--config-name", "training")


def control_plane_with_children(
    tmp_path_factory: pytest.TempPathFactory, session: ControlPlane, name: str, *, child_slots: int = 4
) -> Iterator[ControlPlane]:
    """A control plane of the session's profile and HOME with `child_slots` for children (a driver holds a root slot)."""
    plane = ControlPlane(
        tmp_path_factory.mktemp(name), home=session.home, root_slots=2, child_slots=child_slots,
        profile=session.profile,
    ).start()  # fmt: skip
    try:
        yield plane
    finally:
        plane.close()


def copy_project(tmp_path: Path, *files: str) -> Path:
    """conf/ and the named task files, as a user's project directory."""
    root = tmp_path / "project"
    shutil.copytree(HERE / "conf", root / "conf")
    for name in files:
        shutil.copy(HERE / name, root / name)
    return root


def flyte(cp: ControlPlane, cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`flyte ARGS` in `cwd` against `cp`, output captured (wide, so rich wraps nothing)."""
    return subprocess.run(
        [str(FLYTE), *args], cwd=cwd, env={**cp.env(), "COLUMNS": "400"},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def children(cp: ControlPlane, run_name: str) -> list[Action]:
    """The child actions of run `run_name` (every action but its root)."""
    return [a for a in cp.run(run_name).actions.values() if a.parent]
