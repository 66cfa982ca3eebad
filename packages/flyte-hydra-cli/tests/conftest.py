"""Test set-up for flyte-hydra-cli: telemetry off, and a fresh copy of the fixture project per test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# The flyte SDK reports errors to a telemetry service unless told not to; these machines are offline.
os.environ["DO_NOT_TRACK"] = "1"


def _isolate_home() -> None:
    """Give this test session (and every process it starts) a temporary HOME and cache directory.

    Sweeps index their ids under the cache directory (hydra_flyte.state.manifest.index_dir) and
    flyte keeps files under HOME: none of it may land in the home of whoever runs the tests. The
    real places are kept in HYDRA_FLYTE_TEST_REAL_HOME / _REAL_CACHE for the test that checks
    them; installers keep their own shared cache (uv's), which the tests read, not ours.
    """
    if (
        os.environ.get("HYDRA_FLYTE_TEST_HOME")
        and os.environ.get("HOME") == os.environ["HYDRA_FLYTE_TEST_HOME"]
    ):
        return  # another conftest of this session, or the session that started this one, did it
    real_home = os.environ.get("HOME") or os.path.expanduser("~")
    real_cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(real_home, ".cache")
    os.environ.setdefault("UV_CACHE_DIR", os.path.join(real_cache, "uv"))
    home = tempfile.mkdtemp(prefix="hydra-flyte-tests-home-")
    os.environ.update(
        HOME=home,
        XDG_CACHE_HOME=os.path.join(home, ".cache"),
        HYDRA_FLYTE_TEST_HOME=home,
        HYDRA_FLYTE_TEST_REAL_HOME=real_home,
        HYDRA_FLYTE_TEST_REAL_CACHE=real_cache,
    )
    atexit.register(shutil.rmtree, home, ignore_errors=True)


_isolate_home()

import sys  # noqa: E402 - after the isolation: nothing may read HOME first
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import flyte._initialize as flyte_initialize  # noqa: E402
import pytest  # noqa: E402

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
