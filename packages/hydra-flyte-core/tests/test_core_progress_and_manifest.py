"""Progress lines and the manifest file, on their own (no control plane)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

from hydra_flyte.remote.waiting import Progress
from hydra_flyte.state.manifest import Manifest, find_manifest, format_summary


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    out = _Terminal()
    progress = Progress(2, stream=out)
    progress.submitted()
    progress.submitted()
    progress.started()
    progress.finished(ok=True, started=True)
    progress.finished(ok=False, started=False)
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 5 and text.endswith("\n")
    assert "2/2 submitted, 0 queued, 0 running, 1 succeeded, 1 failed" in text
    assert "1 queued, 1 running" in text


def test_progress_in_a_log_is_sparse_but_always_has_the_last_line() -> None:
    out = io.StringIO()
    progress = Progress(3, stream=out, interval_seconds=3600)
    for _ in range(3):
        progress.submitted()
    for _ in range(3):
        progress.finished(ok=True, started=False)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines  # the first event, then the end
    assert lines[-1].endswith("3/3 submitted, 0 queued, 0 running, 3 succeeded, 0 failed")


@pytest.mark.parametrize("boot", [0.0, 5.0, 1e6])
def test_progress_first_line_does_not_depend_on_the_clock_origin(boot: float) -> None:
    # monotonic() counts from an arbitrary origin (boot on Linux): a machine up for 5 seconds
    # must print the first line as one up for days does.
    now = [boot]
    out = io.StringIO()
    progress = Progress(3, stream=out, interval_seconds=15.0, clock=lambda: now[0])
    progress.submitted()
    assert out.getvalue().splitlines() == [
        "[hydra-flyte] 1/3 submitted, 1 queued, 0 running, 0 succeeded, 0 failed"
    ]
    now[0] += 14.0
    progress.submitted()  # within the interval: no line
    now[0] += 1.0
    progress.submitted()  # the interval has passed: a line
    progress.finished(ok=True, started=False)  # within it again: none
    assert len(out.getvalue().splitlines()) == 2


def test_manifest_is_written_atomically_owner_only_and_found_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    manifest = Manifest.create(tmp_path / "sweep", run_options={"env_vars": {"TOKEN": "s3cr3t"}, "name": "n"})
    manifest.plan([(0, ["a=1"], "n-0"), (1, ["a=2"], "n-1")])
    path = tmp_path / "sweep" / "flyte-sweep.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert [j["run_name"] for j in data["jobs"]] == ["n-0", "n-1"]
    assert data["env_var_names"] == ["TOKEN"] and "s3cr3t" not in path.read_text()
    manifest.submitted(0, run_name="n-0", url="http://cp:1/v2/runs/n-0")
    manifest.finished(0, phase="SUCCEEDED", value=0.5)
    manifest.save()
    again = Manifest.load(path)
    assert (again.records()[0].phase, again.records()[0].value) == ("SUCCEEDED", 0.5)
    assert again.endpoint == "http://cp:1"
    assert find_manifest(manifest.sweep_id) == path
    assert not list(path.parent.glob(".flyte-sweep-*")), "no temporary file left behind"
    table = format_summary(again.records())
    assert "n-0" in table and "SUCCEEDED" in table and "1 planned, 1 succeeded" in table


def test_a_new_sweep_keeps_the_manifest_of_the_sweep_it_replaces_in_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = Manifest.create(tmp_path / "sweep", run_options={"name": "old"})
    first.plan([(0, ["a=1"], "old-0"), (1, ["a=2"], "old-1")])
    first.save()
    second = Manifest.create(tmp_path / "sweep", run_options={"name": "new"})
    second.plan([(0, ["a=3"], "new-0")])
    second.save()
    kept = tmp_path / "sweep" / f"flyte-sweep.{first.sweep_id}.json"
    assert [r.run_name for r in Manifest.load(kept).records()] == ["old-0", "old-1"], "nothing of it is lost"
    assert [r.run_name for r in Manifest.load(tmp_path / "sweep").records()] == ["new-0"]
    assert find_manifest(first.sweep_id) == kept, "its sweep id still finds it"
    assert find_manifest(second.sweep_id) == tmp_path / "sweep" / "flyte-sweep.json"
    (message,) = [r.getMessage() for r in caplog.records if "held the manifest" in r.getMessage()]
    assert first.sweep_id in message and "2 jobs" in message and kept.name in message
    third = Manifest.create(tmp_path / "sweep", run_options={"name": "newer"})
    third.plan([(0, ["a=4"], "newer-0")])
    assert sorted(p.name for p in (tmp_path / "sweep").glob("flyte-sweep*.json")) == sorted(
        ["flyte-sweep.json", kept.name, f"flyte-sweep.{second.sweep_id}.json"]
    ), third.sweep_id


def test_the_sweep_index_drops_entries_whose_manifest_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from hydra_flyte.state import manifest as manifest_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(manifest_module, "_pruned", set())
    index = manifest_module.index_dir()
    gone = Manifest.create(tmp_path / "gone", run_options={"name": "g"})
    gone.plan([(0, ["a=1"], "g-0")])
    kept = Manifest.create(tmp_path / "kept", run_options={"name": "k"})
    kept.plan([(0, ["a=1"], "k-0")])
    assert {p.name for p in index.iterdir()} == {gone.sweep_id, kept.sweep_id}
    shutil.rmtree(tmp_path / "gone")  # a pytest tmp dir cleaned up, a sweep directory deleted
    (index / "hf-elsewhere").write_text(str(tmp_path / "never" / "flyte-sweep.json"))
    monkeypatch.setattr(manifest_module, "_pruned", set())  # a new process
    new = Manifest.create(tmp_path / "new", run_options={"name": "n"})
    new.plan([(0, ["a=1"], "n-0")])
    assert {p.name for p in index.iterdir()} == {kept.sweep_id, new.sweep_id}
    assert find_manifest(kept.sweep_id) == tmp_path / "kept" / "flyte-sweep.json"
    # An entry found stale on lookup is dropped too, and the error says the manifest is gone.
    shutil.rmtree(tmp_path / "kept")
    with pytest.raises(FileNotFoundError, match="was recorded at .*kept.*no longer there"):
        find_manifest(kept.sweep_id)
    assert {p.name for p in index.iterdir()} == {new.sweep_id}


def test_a_missing_manifest_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match="pass the manifest's path, its sweep directory, or a sweep id"
    ):
        find_manifest(tmp_path / "nowhere")


def test_manifest_rewrites_reencode_only_changed_records_and_stay_valid_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    manifest = Manifest.create(tmp_path, sweep_id="hf-test")
    manifest.plan([])
    assert json.loads(manifest.path.read_text())["jobs"] == []
    manifest.plan([(n, [f"a={n}", 'b="q,\\"x"'], f"r-{n}") for n in range(3)])
    encoded = dict(manifest._encoded)
    assert sorted(encoded) == [0, 1, 2]
    manifest.submitted(1, run_name="r-1", url="http://cp:1/v2/runs/r-1")
    manifest.resubmitted(2, run_name="r-2b", url="http://cp:1/v2/runs/r-2b")
    manifest.save()
    assert manifest._encoded[0] is encoded[0], "an unchanged record is not encoded again"
    assert manifest._encoded[1] != encoded[1] and manifest._encoded[2] != encoded[2]
    text = manifest.path.read_text()
    assert json.loads(text) == manifest.to_json()
    assert len(text.splitlines()) == 15 + 2 + 3, "header keys one per line, then one line per job"
    again = Manifest.load(manifest.path)
    assert [r.run_name for r in again.records()] == ["r-0", "r-1", "r-2b"]
    assert again.records()[2].attempts[0]["run_name"] == "r-2"
