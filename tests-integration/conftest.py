"""Fixtures for integration tests: a session-wide loopback Flyte control plane and an in-process client."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


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

# Make `flyte_loopback` and the task modules importable without touching the root pyproject.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from flyte_loopback import DEFAULT_PROFILE, PROFILES, ControlPlane  # noqa: E402
from flyte_loopback._sdk_private import restored_flyte_init  # noqa: E402

# Which real control plane the session's loopback behaves as: "open-source" (the default, see
# flyte_loopback.rules) or "hosted". run_each_file.py runs the trust, fault and resume files under both.
PROFILE_ENV = "LOOPBACK_PROFILE"


def session_profile() -> str:
    """The profile named by $LOOPBACK_PROFILE, else the default; a typo fails the session loudly."""
    profile = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise pytest.UsageError(f"{PROFILE_ENV}={profile!r}: use one of {', '.join(PROFILES)}")
    return profile


def other_profile(profile: str) -> str:
    """The profile that is not `profile`."""
    return next(p for p in PROFILES if p != profile)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A loopback control plane for the whole session, with HOME isolated (the SDK caches bundles there)."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("HOME", "DO_NOT_TRACK")}
    os.environ["HOME"] = str(home)
    os.environ["DO_NOT_TRACK"] = "1"
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"), home=home, profile=session_profile()).start()
    cp.write_flyte_config(home / ".flyte-loopback" / "config.yaml")
    try:
        yield cp
    finally:
        cp.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def init_flyte_for(control_plane: ControlPlane, *, root_dir: Path | str = _HERE) -> None:
    """`flyte.init()` against the loopback control plane; `root_dir` is where task modules are bundled from."""
    import flyte

    flyte.init(
        endpoint=control_plane.endpoint,
        insecure=True,
        project=control_plane.project,
        domain=control_plane.domain,
        org=control_plane.org,
        root_dir=Path(root_dir),
    )


@pytest.fixture(scope="module")
def cp4(tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """A second loopback control plane with 4 root slots, for one test file (HOME is the session's)."""
    cp = ControlPlane(
        tmp_path_factory.mktemp("control-plane-4"),
        home=control_plane.home,
        root_slots=4,
        profile=control_plane.profile,
    ).start()
    try:
        yield cp
    finally:
        cp.close()


@pytest.fixture(scope="module")
def cp_open_source(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[ControlPlane]:
    """A loopback control plane with the open-source profile, whatever the session's is (HOME is the session's)."""
    yield from _profiled(tmp_path_factory, control_plane, "open-source")


@pytest.fixture(scope="module")
def cp_hosted(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[ControlPlane]:
    """A loopback control plane with the hosted profile, whatever the session's is (HOME is the session's)."""
    yield from _profiled(tmp_path_factory, control_plane, "hosted")


@pytest.fixture(params=["open-source", "hosted"])
def cp_each_profile(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """A control plane of each profile in turn, the in-process SDK pointed at it (reset before and after)."""
    plane: ControlPlane = request.getfixturevalue(
        "cp_open_source" if request.param == "open-source" else "cp_hosted"
    )
    plane.reset()
    with restored_flyte_init():
        init_flyte_for(plane)
        yield plane
    plane.reset()


def _profiled(
    tmp_path_factory: pytest.TempPathFactory, session: ControlPlane, profile: str
) -> Iterator[ControlPlane]:
    if session.profile == profile:
        yield session
        return
    cp = ControlPlane(tmp_path_factory.mktemp(f"control-plane-{profile}"), home=session.home, profile=profile)
    cp.start()
    try:
        yield cp
    finally:
        cp.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A sweep project in a fresh directory: the test configs, tasks, sweep driver and launcher app."""
    root = tmp_path / "project"
    shutil.copytree(Path(_HERE) / "conf", root / "conf")
    for name in ("hydra_tasks.py", "sweep_driver.py", "launcher_app.py"):
        shutil.copy(Path(_HERE) / name, root / name)
    return root


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.05) -> None:
    """Poll `predicate` every `interval` seconds until it is true; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


@pytest.fixture
def flyte_remote(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """`flyte.init()` against the loopback control plane for this test; undone afterwards.

    Task modules are bundled relative to tests-integration/ (where they are importable from), so a
    test may change its working directory without changing what is bundled.
    """
    control_plane.reset()
    with restored_flyte_init():
        init_flyte_for(control_plane)
        yield control_plane
    control_plane.reset()
