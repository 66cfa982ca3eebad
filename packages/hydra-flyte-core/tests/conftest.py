"""Shared fixtures for hydra-flyte-core's unit tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

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
