"""The test session writes nothing into the user's home: sweeps index their ids in a temporary cache.

conftest.py gives the whole session (and every subprocess it starts) a temporary HOME and
XDG_CACHE_HOME before any test runs. These tests run sweeps as the unit suites do and check that
the real cache directory is left as it was.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
from pathlib import Path

from core_tasks import objective

from hydra_flyte import hydra_sweep
from hydra_flyte.state.manifest import index_dir

_INDEX = Path("hydra-flyte") / "sweeps"


def _real_index_dirs() -> list[Path]:
    """The sweep index of the user who runs the tests, wherever their real cache is."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    dirs = {home / ".cache" / _INDEX}
    for variable in ("HYDRA_FLYTE_TEST_REAL_HOME", "HYDRA_FLYTE_TEST_REAL_CACHE"):
        if os.environ.get(variable):  # what HOME and XDG_CACHE_HOME were when the session started
            base = Path(os.environ[variable])
            dirs.add(base / (".cache" if variable.endswith("HOME") else "") / _INDEX)
    return sorted(dirs)


def _is_inside(path: Path, parents: list[Path]) -> bool:
    return any(path.resolve().is_relative_to(p.resolve()) for p in parents)


def test_the_session_runs_with_a_temporary_home_and_cache() -> None:
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert Path(os.environ["HOME"]).resolve() != real_home.resolve()
    assert not _is_inside(index_dir(), [real_home, *[d.parents[1] for d in _real_index_dirs()]])


def test_a_sweep_and_a_subprocess_sweep_leave_the_real_cache_untouched(conf_dir: str) -> None:
    # Other processes of the machine may write to the real index meanwhile: what must not be
    # there is the ids of the sweeps this test runs, which its own index must hold instead.
    before = set(p.name for p in index_dir().iterdir()) if index_dir().is_dir() else set()
    hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=["optimizer.lr=0.1,0.2"],
        mode="local",
        summary="none",
    )
    script = f"""
        from hydra_flyte import hydra_sweep
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from core_tasks import objective
        hydra_sweep(objective, config_path={conf_dir!r}, config_name="training",
                    overrides=["optimizer.lr=0.3,0.4"], mode="local", summary="none")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    ours = {p.name for p in index_dir().iterdir()} - before
    assert len(ours) == 2, ours  # both sweeps were indexed, in the session's own cache
    for real in _real_index_dirs():
        assert not real.is_dir() or not ours & {p.name for p in real.iterdir()}, real
