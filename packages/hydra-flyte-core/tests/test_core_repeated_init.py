"""A launch's repeated flyte.init_from_config(): once per configuration, never hiding a change.

These call flyte's real init_from_config on real config files (it makes no RPC) and undo it after.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import flyte
import flyte._initialize as flyte_initialize  # test-only: to restore flyte's global configuration
import pytest

from hydra_flyte.compat import flyte_private as _flyte_private
from hydra_flyte.compat.flyte_private import configured_endpoint, current_init_config, init_config_pinned
from hydra_flyte.remote.repeated_init import init_from_config_reused


@pytest.fixture(autouse=True)
def _restored_flyte_init() -> Iterator[None]:
    saved, saved_path = flyte_initialize._init_config, list(sys.path)
    try:
        yield
    finally:
        flyte_initialize._init_config = saved
        sys.path[:] = saved_path


def write_config(path: Path, port: int, project: str = "p") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"admin:\n  endpoint: http://127.0.0.1:{port}\n  insecure: true\n"
        f"task:\n  org: o\n  project: {project}\n  domain: d\n"
    )
    return path


def test_the_fence_finds_flytes_init_config_accessors() -> None:
    getter, context = _flyte_private._init_config_accessors()
    assert getter is flyte_initialize._get_init_config and context is flyte_initialize.init_config_context


def test_the_same_config_initialises_once_and_a_changed_one_takes_effect(tmp_path: Path) -> None:
    a, b = write_config(tmp_path / "a.yaml", 9001), write_config(tmp_path / "b.yaml", 9002)
    original = flyte.init_from_config
    with init_from_config_reused() as reused:
        assert flyte.init_from_config is reused
        flyte.init_from_config(str(a))
        first = current_init_config()
        flyte.init_from_config(str(a))
        flyte.init_from_config(str(a))
        assert current_init_config() is first and reused.reused == 2
        flyte.init_from_config(str(b))  # another endpoint: flyte's own call
        assert current_init_config() is not first and configured_endpoint() == "http://127.0.0.1:9002"
        flyte.init_from_config(str(write_config(tmp_path / "c.yaml", 9002, project="q")))  # another project
        assert configured_endpoint() == "http://127.0.0.1:9002" and current_init_config().project == "q"
        assert reused.reused == 2
    assert flyte.init_from_config is original


def test_a_flyte_init_in_between_or_other_arguments_are_not_skipped(tmp_path: Path) -> None:
    a = write_config(tmp_path / "a.yaml", 9001)
    with init_from_config_reused() as reused:
        flyte.init_from_config(str(a))
        flyte.init(endpoint="http://127.0.0.1:9005", insecure=True, project="p", domain="d", org="o")
        flyte.init_from_config(str(a))  # flyte now holds another configuration: re-initialise
        assert configured_endpoint() == "http://127.0.0.1:9001" and reused.reused == 0
        flyte.init_from_config(str(a), project="other")
        assert current_init_config().project == "other" and reused.reused == 0


def test_a_new_working_directory_is_a_new_root_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flyte defaults root_dir (what the code bundle holds) to the working directory: a job that
    changed it (hydra.job.chdir=true) re-initialises."""
    a = write_config(tmp_path / "a.yaml", 9001)
    (tmp_path / "job").mkdir()
    with init_from_config_reused() as reused:
        flyte.init_from_config(str(a))
        monkeypatch.chdir(tmp_path / "job")
        flyte.init_from_config(str(a))
        assert reused.reused == 0 and current_init_config().root_dir == tmp_path / "job"
        flyte.init_from_config(str(a))
        assert reused.reused == 1


def test_a_pinned_submission_keeps_its_jobs_configuration(tmp_path: Path) -> None:
    flyte.init_from_config(str(write_config(tmp_path / "a.yaml", 9001)))
    pinned = current_init_config()
    flyte.init_from_config(str(write_config(tmp_path / "b.yaml", 9002)))
    seen: list[object] = []

    def submission() -> None:  # on a pool thread, after a later job re-initialised flyte
        with init_config_pinned(pinned):
            seen.append((current_init_config(), configured_endpoint()))

    thread = threading.Thread(target=submission)
    thread.start()
    thread.join()
    assert seen == [(pinned, "http://127.0.0.1:9001")]
    assert configured_endpoint() == "http://127.0.0.1:9002"
