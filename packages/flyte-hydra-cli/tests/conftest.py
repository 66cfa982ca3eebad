"""Test set-up for flyte-hydra-cli: telemetry off, and a fresh copy of the fixture project per test."""

from __future__ import annotations

import os

# The flyte SDK reports errors to a telemetry service unless told not to; these machines are offline.
os.environ["DO_NOT_TRACK"] = "1"

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import flyte._initialize as flyte_initialize
import pytest

PROJECT = Path(__file__).parent / "project"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of tests/project as the current directory, with no Flyte config in reach."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", "outputs", "multirun"))
    monkeypatch.chdir(target)
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "FLYTE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    yield target


@pytest.fixture(autouse=True)
def _restored_flyte_init() -> Iterator[None]:
    """Undo what a test's in-process `flyte ... hydra run` set up: flyte's global init config, sys.path.

    Without it a test that runs `flyte -c FILE hydra run` (an endpoint nobody listens on) leaves
    flyte initialised with that endpoint, and a later test in the same process that expects "no
    Flyte endpoint configured" (the launcher's `test_single_remote_run_without_endpoint_fails`)
    finds one instead.
    """
    saved, saved_path = flyte_initialize._init_config, list(sys.path)
    try:
        yield
    finally:
        flyte_initialize._init_config = saved
        sys.path[:] = saved_path
