"""Shared fixtures for hydra-flyte-core's unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["DO_NOT_TRACK"] = "1"

CONF_DIR = Path(__file__).parent / "conf"


@pytest.fixture
def conf_dir() -> str:
    """The small test config tree (absolute path)."""
    return str(CONF_DIR)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in its own directory, so Hydra's outputs/ and multirun/ land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_flyte_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Flyte config anywhere the SDK looks, and no client configured."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "FLYTE_CONFIG", "FLYTE_PLATFORM_URL", "_U_EP_OVERRIDE"):
        monkeypatch.delenv(var, raising=False)
