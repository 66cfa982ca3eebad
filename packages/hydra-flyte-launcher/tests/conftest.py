"""Shared fixtures for hydra-flyte-launcher's tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Flyte reports errors to a telemetry service unless told not to; these machines have no internet.
os.environ["DO_NOT_TRACK"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES_DIR = REPO_ROOT / "examples"

_FLYTE_CONFIG_VARS = (
    "FLYTECTL_CONFIG",
    "UCTL_CONFIG",
    "FLYTE_CONFIG",
    "FLYTE_PLATFORM_URL",
    "_U_EP_OVERRIDE",
)


@pytest.fixture
def no_flyte_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Flyte config anywhere the SDK looks (HOME is an empty directory); returns that HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in _FLYTE_CONFIG_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of the example project (train.py, conf/) to run in, so outputs land in tmp_path."""
    project = tmp_path / "project"
    shutil.copytree(
        EXAMPLES_DIR, project, ignore=shutil.ignore_patterns("outputs", "multirun", "__pycache__")
    )
    return project
