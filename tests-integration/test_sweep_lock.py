"""One sweep per directory, against the loopback control plane: two sweeps into one directory.

The second sweep is refused at once (before composing or submitting), naming the directory, the
sweep holding it and the fix; no run is lost from any manifest; a SIGKILLed sweep's lock does
not block the next one. Through the SDK (sweep_driver.py), the CLI and the launcher.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_until
from flyte_loopback import ControlPlane
from hydra_tasks import objective

from hydra_flyte import hydra_sweep, load_manifest
from hydra_flyte.state.sweep_lock import SweepDirectoryInUseError

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.slow


def driver(cp: ControlPlane, project: Path, sweep_dir: str, name: str, jobs: int) -> subprocess.Popen[str]:
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    return subprocess.Popen([sys.executable, "sweep_driver.py", sweep_dir, name, str(jobs)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def manifest_exists(path: Path) -> bool:
    return (path / "flyte-sweep.json").is_file()


def test_two_sweeps_started_at_once_one_runs_the_other_is_refused(
    flyte_remote: ControlPlane, project: Path
) -> None:
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.2)  # the winner holds the directory a while
    first = driver(flyte_remote, project, "sweep", "twin-a", 6)
    second = driver(flyte_remote, project, "sweep", "twin-b", 6)
    outputs = {}
    for name, proc in (("twin-a", first), ("twin-b", second)):
        outputs[name] = proc.communicate(timeout=180)[0]
    codes = {"twin-a": first.returncode, "twin-b": second.returncode}
    assert sorted(codes.values())[0] == 0 and sorted(codes.values())[1] != 0, (codes, outputs)
    loser = next(n for n, c in codes.items() if c != 0)
    winner = next(n for n, c in codes.items() if c == 0)
    text = outputs[loser]
    assert "is in use by another sweep" in text and str((project / "sweep").resolve()) in text, text
    assert "hydra.sweep.dir=" in text
    # Nothing of the refused sweep reached the control plane; every run is in the winner's manifest.
    created = {c.name for c in flyte_remote.requests.created_runs()}
    manifest = load_manifest(project / "sweep")
    assert created == {r.run_name for r in manifest.records()} == {f"{winner}-{n}" for n in range(6)}
    assert {r.phase for r in manifest.records()} == {"SUCCEEDED"}


def test_a_second_sweep_is_refused_in_under_two_seconds_naming_the_holder(
    flyte_remote: ControlPlane, project: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "shared"
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.3)
    holder = driver(flyte_remote, project, str(sweep_dir), "hold", 8)
    try:
        wait_until(lambda: manifest_exists(sweep_dir), timeout=120)
        sweep_id = load_manifest(sweep_dir).sweep_id
        wait_until(lambda: sweep_id in (sweep_dir / ".flyte-sweep.lock.owner").read_text(), timeout=30)
        creates_before = len(flyte_remote.requests.of("RunService/CreateRun"))
        started = time.monotonic()
        with pytest.raises(SweepDirectoryInUseError) as info:
            hydra_sweep(objective, config_path=str(project / "conf"), config_name="training",
                        overrides=["optimizer.lr=1,2", f"hydra.sweep.dir={sweep_dir}"], run_options={"name": "late"})  # fmt: skip
        elapsed = time.monotonic() - started
        message = str(info.value)
        assert elapsed < 2.0, f"refused after {elapsed:.2f} s"
        assert f"sweep {sweep_id}" in message and f"pid {holder.pid}" in message and str(sweep_dir) in message
        assert not any(
            r.request.run_id.name.startswith("late-")
            for r in flyte_remote.requests.of("RunService/CreateRun")
        )
        assert len(flyte_remote.requests.of("RunService/CreateRun")) >= creates_before
        print(f"refused in {elapsed:.3f} s")
        out = holder.communicate(timeout=180)[0]
        assert holder.returncode == 0, out
    finally:
        if holder.poll() is None:
            holder.kill()
    assert [r.phase for r in load_manifest(sweep_dir).records()] == ["SUCCEEDED"] * 8


def test_the_cli_exits_2_and_the_launcher_fails_without_a_traceback(
    flyte_remote: ControlPlane, project: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "shared"
    # A name no earlier test used: a clash with their runs would end the holder (RunNameClashError)
    # and free the directory before the refusals below are tried.
    flyte_remote.faults.hang_runs(
        lambda target: target.run_name.startswith("holder-")
    )  # it holds the directory
    holder = driver(flyte_remote, project, str(sweep_dir), "holder", 10)
    try:
        wait_until(lambda: manifest_exists(sweep_dir), timeout=120)
        wait_until(lambda: len(flyte_remote.requests.created_runs()) == 10, timeout=120)
        assert holder.poll() is None, "the holder must be waiting on its runs while the others are tried"
        env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
        env["COLUMNS"] = "400"  # rich boxes the message: one line
        flyte = Path(sys.executable).with_name("flyte")
        cli = subprocess.run(
            [str(flyte), "hydra", "run", "--multirun", "--config-path", "conf", "--config-name", "training",
             "--hydra-override", f"hydra.sweep.dir={sweep_dir}", "hydra_tasks.py", "objective", "--cfg", "optimizer.lr=1,2"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cli.returncode == 2, cli.stdout + cli.stderr
        assert "is in use by another sweep" in cli.stderr and "hydra.sweep.dir=" in cli.stderr, cli.stderr
        app = subprocess.run(
            [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", "optimizer.lr=1,2",
             f"hydra.sweep.dir={sweep_dir}"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert app.returncode != 0, app.stdout + app.stderr
        assert "is in use by another sweep" in app.stdout + app.stderr, app.stdout + app.stderr
        assert "Traceback" not in app.stdout + app.stderr, app.stdout + app.stderr
        assert holder.poll() is None, "the holder was still waiting all along"
    finally:
        if holder.poll() is None:
            holder.kill()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    created = {c.name for c in flyte_remote.requests.created_runs()}
    assert created == {f"holder-{n}" for n in range(10)}, "neither refused sweep submitted anything"
    assert {r.run_name for r in load_manifest(sweep_dir).records()} == created


def test_a_sigkilled_sweep_leaves_no_lock_that_blocks(
    flyte_remote: ControlPlane, project: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "killed"
    flyte_remote.faults.hang_runs(lambda target: True)
    holder = driver(flyte_remote, project, str(sweep_dir), "dead", 2)
    wait_until(lambda: len(flyte_remote.requests.of("RunService/CreateRun")) >= 2, timeout=120)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    owner = json.loads((sweep_dir / ".flyte-sweep.lock.owner").read_text())
    assert owner["pid"] == holder.pid, "the dead sweep's note is still there, its lock is not"
    flyte_remote.reset()
    started = time.monotonic()
    results = hydra_sweep(objective, config_path=str(project / "conf"), config_name="training",
                          overrides=["optimizer.lr=1,2", f"hydra.sweep.dir={sweep_dir}"], run_options={"name": "next"})  # fmt: skip
    assert [float(r) for r in results] == [2.0, 4.0]
    assert time.monotonic() - started < 120


def test_a_later_sweep_into_the_same_directory_keeps_the_earlier_manifest(
    flyte_remote: ControlPlane, project: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "reused"
    for name, lrs in (("first", "1,2"), ("second", "3")):
        hydra_sweep(objective, config_path=str(project / "conf"), config_name="training",
                    overrides=[f"optimizer.lr={lrs}", f"hydra.sweep.dir={sweep_dir}"], run_options={"name": name})  # fmt: skip
    (kept,) = sweep_dir.glob("flyte-sweep.hf-*.json")
    earlier = load_manifest(kept)
    assert [(r.run_name, r.phase, r.value) for r in earlier.records()] == [
        ("first-0", "SUCCEEDED", 2.0),
        ("first-1", "SUCCEEDED", 4.0),
    ]
    assert [(r.run_name, r.value) for r in load_manifest(sweep_dir).records()] == [("second-0", 6.0)]
    assert {c.name for c in flyte_remote.requests.created_runs()} == {"first-0", "first-1", "second-0"}
