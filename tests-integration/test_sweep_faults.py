"""Sweep state the control plane confirms, under faults: lost CreateRun replies, refused submissions,
reused run names (and, below, lost contact while waiting).

Every scenario runs against the loopback control plane, which executes the runs for real; the
assertions compare what the manifest and the commands report with what the control plane holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from connectrpc.code import Code
from flyte_loopback import ControlPlane
from hydra_tasks import objective

from hydra_flyte import (
    RunNameClashError,
    SweepFailedError,
    hydra_run,
    hydra_sweep,
    load_manifest,
    rerun_failed,
    sweep_status,
)

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
FLYTE = Path(sys.executable).with_name("flyte")
SMALL = ("--config-path", "conf", "--config-name", "training")

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(HERE / "conf", root / "conf")
    shutil.copy(HERE / "hydra_tasks.py", root / "hydra_tasks.py")
    return root


def flyte_cli(
    cp: ControlPlane, cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real `flyte` command of this environment, pointed at the control plane."""
    env = cp.env(cp.write_flyte_config(cwd / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    return subprocess.run(
        [str(FLYTE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def hydra_run_cli(cp: ControlPlane, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return flyte_cli(cp, project, "hydra", "run", *SMALL, "--multirun", *args)


def runs_named(cp: ControlPlane, prefix: str) -> list[str]:
    return sorted(name for name in cp.runs.names() if name.startswith(prefix))


def lrs(n: int, start: int = 1) -> str:
    return "optimizer.lr=" + ",".join(str(i) for i in range(start, start + n))


# ------------------------------------------------------------------ lost CreateRun replies


def test_lost_create_run_replies_are_the_submissions_themselves(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    flyte_remote.faults.lose_create_run_replies(first=5)
    results = hydra_sweep(
        objective, config_path=CONF, config_name="training",
        overrides=[lrs(20), f"hydra.sweep.dir={tmp_path / 'sweep'}"], run_options={"name": "lost"},
    )  # fmt: skip
    assert [float(r) for r in results] == [2.0 * lr for lr in range(1, 21)]
    assert len(flyte_remote.requests.lost_replies()) == 5, "the fault fired"
    names = [f"lost-{n}" for n in range(20)]
    assert runs_named(flyte_remote, "lost-") == sorted(names), "exactly one run per job"
    assert sorted(c.name for c in flyte_remote.requests.created_runs()) == sorted(names)
    manifest = load_manifest(tmp_path / "sweep")
    assert [(r.run_name, r.phase) for r in manifest.records()] == [(n, "SUCCEEDED") for n in names]
    assert [r.value for r in manifest.records()] == [2.0 * lr for lr in range(1, 21)]
    assert all(r.url and r.url.endswith(f"/runs/{r.run_name}") for r in manifest.records())
    again = rerun_failed(tmp_path / "sweep")
    assert len(flyte_remote.requests.created_runs()) == 20, "nothing to rerun"
    assert {r.phase for r in again.records()} == {"SUCCEEDED"}


def test_lost_replies_through_the_cli_exit_0_and_print_every_url(
    control_plane: ControlPlane, project: Path
) -> None:
    control_plane.reset()
    control_plane.faults.lose_create_run_replies(first=3)
    result = hydra_run_cli(
        control_plane, project, "--name", "clil", "hydra_tasks.py", "objective",
        "--cfg", lrs(6), "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(control_plane.requests.lost_replies()) == 3
    assert runs_named(control_plane, "clil-") == [f"clil-{n}" for n in range(6)]
    submitted = [line for line in result.stderr.splitlines() if line.startswith("Submitted clil-")]
    assert len(submitted) == 6, result.stderr
    assert {r.phase for r in load_manifest(project / "sweep").records()} == {"SUCCEEDED"}
    control_plane.reset()


def test_a_named_single_run_whose_reply_was_lost_is_adopted_and_a_taken_name_is_refused(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    """hydra_run: the run found under its name is its own (by its submission token), or a clear clash."""
    flyte_remote.faults.lose_create_run_replies(first=1)
    result = hydra_run(objective, config_path=CONF, config_name="training",
                       overrides=["optimizer.lr=3", f"hydra.run.dir={tmp_path / 'one'}"], run_options={"name": "solo"})  # fmt: skip
    assert float(result) == 6.0
    assert len(flyte_remote.requests.lost_replies()) == 1, "the fault fired"
    assert [c.name for c in flyte_remote.requests.created_runs()] == ["solo"], "one run, adopted"
    with pytest.raises(
        RunNameClashError, match=r"run name 'solo' is already taken .*this run did not submit it"
    ):
        hydra_run(objective, config_path=CONF, config_name="training",
                  overrides=["optimizer.lr=4", f"hydra.run.dir={tmp_path / 'two'}"], run_options={"name": "solo"})  # fmt: skip
    assert [c.name for c in flyte_remote.requests.created_runs()] == ["solo"], "the second created nothing"


# ------------------------------------------------------------------ refused submissions


def test_refused_submissions_are_submit_failed_and_rerun_says_resume(
    control_plane: ControlPlane, project: Path
) -> None:
    control_plane.reset()
    control_plane.faults.fail_create_run(
        1, code=Code.PERMISSION_DENIED, times=100, message="injected: denied"
    )
    result = hydra_run_cli(
        control_plane, project, "--name", "deny", "hydra_tasks.py", "objective",
        "--cfg", lrs(4), "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    attempts = control_plane.requests.of("RunService/CreateRun")
    assert len(attempts) == 4, "PERMISSION_DENIED is not retried"
    assert runs_named(control_plane, "deny-") == []
    manifest = load_manifest(project / "sweep")
    assert [r.phase for r in manifest.records()] == ["SUBMIT_FAILED"] * 4
    assert all("injected: denied" in (r.error or "") for r in manifest.records())

    status = flyte_cli(control_plane, project, "hydra", "status", str(project / "sweep"))
    assert status.returncode == 1 and "4 submit_failed" in status.stdout, status.stdout + status.stderr
    rerun = flyte_cli(control_plane, project, "hydra", "rerun", str(project / "sweep"), "--failed")
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert "run ... not found" not in rerun.stdout + rerun.stderr
    assert rerun.stderr.count("--resume") == 4, rerun.stderr
    assert "No failed or aborted run to rerun." in rerun.stderr
    assert len(control_plane.requests.of("RunService/CreateRun")) == 4, "rerun created nothing"
    assert [r.phase for r in load_manifest(project / "sweep").records()] == ["SUBMIT_FAILED"] * 4
    control_plane.reset()


def test_transient_unavailable_is_still_retried_with_one_run_per_job(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    flyte_remote.faults.fail_create_run(2, code=Code.UNAVAILABLE, times=5)  # beyond the SDK's own 3 retries
    results = hydra_sweep(
        objective, config_path=CONF, config_name="training",
        overrides=[lrs(4), f"hydra.sweep.dir={tmp_path / 'sweep'}"], run_options={"name": "tr"},
        submit_max_workers=1,
    )  # fmt: skip
    assert [float(r) for r in results] == [2.0, 4.0, 6.0, 8.0]
    assert runs_named(flyte_remote, "tr-") == [f"tr-{n}" for n in range(4)]


# ------------------------------------------------------------------ reused run names


def _sweep_ids(*dirs: Path) -> list[str]:
    return [json.loads((d / "flyte-sweep.json").read_text())["sweep_id"] for d in dirs]


def test_a_reused_name_is_caught_before_anything_is_submitted(
    control_plane: ControlPlane, project: Path
) -> None:
    control_plane.reset()
    first = hydra_run_cli(
        control_plane, project, "--name", "nightly", "hydra_tasks.py", "objective",
        "--cfg", lrs(2), "--hydra-override", f"hydra.sweep.dir={project / 'A'}",
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    creates = len(control_plane.requests.of("RunService/CreateRun"))
    second = hydra_run_cli(
        control_plane, project, "--name", "nightly", "hydra_tasks.py", "objective",
        "--cfg", lrs(3, start=5), "--hydra-override", f"hydra.sweep.dir={project / 'B'}",
    )  # fmt: skip
    (sweep_a,) = _sweep_ids(project / "A")
    assert second.returncode == 1, second.stdout + second.stderr
    flat = " ".join(second.stderr.split())
    assert "'nightly-0'" in flat and f"sweep {sweep_a}" in flat and "Choose another run name" in flat, flat
    assert str(project / "A" / "flyte-sweep.json") in flat, "says where the earlier sweep's manifest is"
    assert len(control_plane.requests.of("RunService/CreateRun")) == creates, "nothing submitted"
    assert "Submitted" not in second.stdout + second.stderr

    manifest = load_manifest(project / "B")
    assert [r.phase for r in manifest.records()] == ["SUBMIT_FAILED", "NOT_SUBMITTED", "NOT_SUBMITTED"]
    for command in (("status", str(project / "B")), ("status", str(project / "B"), "--wait"),
                    ("rerun", str(project / "B"), "--failed")):  # fmt: skip
        result = flyte_cli(control_plane, project, "hydra", *command)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "succeeded" not in result.stdout.lower(), result.stdout
        assert "2.0" not in result.stdout and "4.0" not in result.stdout, "sweep A's values"
    assert len(control_plane.requests.of("RunService/CreateRun")) == creates, "rerun created nothing"
    assert [r.phase for r in load_manifest(project / "A").records()] == ["SUCCEEDED", "SUCCEEDED"]
    control_plane.reset()


def test_the_sdk_raises_the_clash_naming_the_earlier_sweep(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    hydra_sweep(objective, config_path=CONF, config_name="training",
                overrides=[lrs(2), f"hydra.sweep.dir={tmp_path / 'A'}"], run_options={"name": "sdkn"})  # fmt: skip
    (sweep_a,) = _sweep_ids(tmp_path / "A")
    with pytest.raises(RunNameClashError, match=f"sweep {sweep_a}") as info:
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=[lrs(2, start=7), f"hydra.sweep.dir={tmp_path / 'B'}"], run_options={"name": "sdkn"})  # fmt: skip
    assert info.value.run_name == "sdkn-0" and info.value.owner_sweep == sweep_a
    assert len(flyte_remote.requests.created_runs()) == 2
    status = sweep_status(tmp_path / "B", wait=True)
    assert [r.phase for r in status.records()] == ["SUBMIT_FAILED", "NOT_SUBMITTED"]
    assert all(r.value is None for r in status.records())


def test_a_clash_after_the_first_job_stops_the_submissions(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    # A run of no sweep took the name this sweep plans for job 1 (job 0's, looked up first, is free).
    hydra_run(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=9"],
              run_options={"name": "mid-1"})  # fmt: skip
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=[lrs(4), f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                    run_options={"name": "mid"}, submit_max_workers=1)  # fmt: skip
    errors = [o.error for o in info.value.outcomes]
    assert errors[0] is None and info.value.outcomes[0].result.value == 2.0
    assert isinstance(errors[1], RunNameClashError) and "not part of any hydra-flyte sweep" in str(errors[1])
    assert "mid-1" in str(info.value)
    manifest = load_manifest(tmp_path / "sweep")
    assert [r.phase for r in manifest.records()] == [
        "SUCCEEDED",
        "SUBMIT_FAILED",
        "NOT_SUBMITTED",
        "NOT_SUBMITTED",
    ]
    assert sorted(c.name for c in flyte_remote.requests.created_runs()) == ["mid-0", "mid-1"], (
        "no more after the clash"
    )
    assert flyte_remote.runs["mid-1"].labels.get("hydra-flyte-sweep") is None, "the other run is left alone"
    status = sweep_status(tmp_path / "sweep", wait=True)
    assert [r.phase for r in status.records()] == [
        "SUCCEEDED",
        "SUBMIT_FAILED",
        "NOT_SUBMITTED",
        "NOT_SUBMITTED",
    ]
    assert [r.value for r in status.records()] == [2.0, None, None, None], "never the other run's 18.0"


def test_status_and_rerun_never_take_another_sweeps_run_for_this_sweeps(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    """A manifest written before names were checked (the earlier bug): its job 0 names sweep A's run."""
    hydra_sweep(objective, config_path=CONF, config_name="training",
                overrides=[lrs(2), f"hydra.sweep.dir={tmp_path / 'A'}"], run_options={"name": "old"})  # fmt: skip
    shutil.copytree(tmp_path / "A", tmp_path / "B")
    path = tmp_path / "B" / "flyte-sweep.json"
    data = json.loads(path.read_text())
    data["sweep_id"] = "hf-0badc0de"
    data["jobs"][0].update(phase="FAILED", error="already exists", url=None, value=None)
    data["jobs"][1].update(phase="SUBMITTED", value=None)
    path.write_text(json.dumps(data))
    creates = len(flyte_remote.requests.created_runs())
    status = sweep_status(path, wait=True)
    assert [r.phase for r in status.records()] == ["FAILED", "SUBMIT_FAILED"]
    assert "old-1" in status.records()[1].error and "sweep hf-" in status.records()[1].error
    after = rerun_failed(path)
    assert len(flyte_remote.requests.created_runs()) == creates, "sweep A's run is not rerun"
    assert [(r.phase, r.value) for r in after.records()] == [("SUBMIT_FAILED", None), ("SUBMIT_FAILED", None)]


# ------------------------------------------------------------------ lost contact while waiting


@pytest.fixture
def outage_cp(control_plane: ControlPlane, tmp_path: Path) -> Iterator[ControlPlane]:
    """A control plane of the test's own, to stop and start: the session's one is left untouched."""
    cp = ControlPlane(tmp_path / "outage-cp", home=control_plane.home).start()
    try:
        yield cp
    finally:
        cp.close()


@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    root = tmp_path / "slow"
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("slow_tasks.py", "fault_driver.py"):
        shutil.copy(HERE / name, root / name)
    return root


def start_fault_driver(
    cp: ControlPlane, project: Path, name: str, jobs: int, seconds: float, **options: object
) -> subprocess.Popen[str]:
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    args = [f"{k}={json.dumps(v)}" for k, v in options.items()]
    return subprocess.Popen(
        [sys.executable, "fault_driver.py", str(project / "sweep"), name, str(jobs), str(seconds), *args],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(predicate, timeout: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def outage_while_waiting(
    cp: ControlPlane, proc: subprocess.Popen[str], *, seconds: float, ready: Callable[[], None]
) -> tuple[str, str]:
    """Once `ready()` returns, the control plane is down for `seconds`, then up: `proc`'s output at its end.

    Whatever happens, `proc` is not left running and the control plane is up again.
    """
    try:
        ready()
        cp.stop()
        time.sleep(seconds)
        cp.start()
        return proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        if not cp.running:
            cp.start()


def _waiting_on_all(cp: ControlPlane, names: list[str]) -> bool:
    """Every run exists and the sweep is watching (submission is over)."""
    watched = {r.request.action_id.run.name for r in cp.requests.of("RunService/WatchActionDetails")}
    return all(name in cp.runs for name in names) and set(names) <= watched


def test_an_outage_of_45_s_while_waiting_is_ridden_out(
    control_plane: ControlPlane, slow_project: Path
) -> None:
    control_plane.reset()
    names = [f"out45-{n}" for n in range(4)]
    proc = start_fault_driver(control_plane, slow_project, "out45", 4, 8.0)
    out, err = outage_while_waiting(
        control_plane,
        proc,
        seconds=45,
        ready=lambda: wait_until(lambda: _waiting_on_all(control_plane, names)),
    )
    assert proc.returncode == 0, out + err
    assert json.loads(out.splitlines()[-1]) == [2.0, 4.0, 6.0, 8.0], "the true values"
    manifest = load_manifest(slow_project / "sweep")
    assert [(r.phase, r.value) for r in manifest.records()] == [
        ("SUCCEEDED", 2.0 * (n + 1)) for n in range(4)
    ]
    assert runs_named(control_plane, "out45-") == names, "no run was submitted twice"
    control_plane.reset()


def test_an_outage_while_a_launcher_sweep_waits_is_ridden_out(
    outage_cp: ControlPlane, slow_project: Path
) -> None:
    """The @hydra.main path (hydra/launcher=flyte) rides out an outage like the SDK and the CLI."""
    control_plane = outage_cp
    shutil.copy(HERE / "launcher_app.py", slow_project / "launcher_app.py")
    shutil.copy(HERE / "hydra_tasks.py", slow_project / "hydra_tasks.py")
    names = [f"appout-{n}" for n in range(3)]
    env = control_plane.env(control_plane.write_flyte_config(slow_project / "flyte.yaml"))
    command = [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", lrs(3),
               "+task=slow_objective", "+seconds=8", "hydra.sweep.dir=sweep", "+hydra.launcher.run_options.name=appout"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=slow_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def ready() -> None:
        try:
            wait_until(lambda: _waiting_on_all(control_plane, names) or proc.poll() is not None)
        except AssertionError:
            proc.kill()
            raise AssertionError(proc.communicate()) from None
        assert proc.poll() is None, proc.communicate()

    out, err = outage_while_waiting(control_plane, proc, seconds=15, ready=ready)
    assert proc.returncode == 0, out + err
    manifest = load_manifest(slow_project / "sweep")
    assert [(r.phase, r.value) for r in manifest.records()] == [
        ("SUCCEEDED", 2.0 * (n + 1)) for n in range(3)
    ]
    assert runs_named(control_plane, "appout-") == names, "no run was submitted twice"
    assert "Traceback" not in out + err, out + err


def test_an_outage_past_the_limit_leaves_jobs_unconfirmed_then_status_finds_the_truth(
    outage_cp: ControlPlane, project: Path
) -> None:
    control_plane = outage_cp
    shutil.copy(HERE / "slow_tasks.py", project / "slow_tasks.py")
    names = [f"lim-{n}" for n in range(3)]
    env = control_plane.env(control_plane.write_flyte_config(project / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    command = [str(FLYTE), "hydra", "run", *SMALL, "--multirun", "--name", "lim", "--reconnect-timeout", "3",
               "slow_tasks.py", "slow_objective", "--cfg", lrs(3), "--seconds", "6",
               "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: _waiting_on_all(control_plane, names))
        control_plane.stop()
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=300)  # the control plane stays away until the sweep gives up
        gave_up_after = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
        control_plane.start()
    print(f"the sweep gave up {gave_up_after:.1f} s after the control plane stopped (limit 3 s)")
    assert proc.returncode == 1, out + err
    manifest_path = project / "sweep" / "flyte-sweep.json"
    flat = " ".join(err.split())
    assert "3 of 3 jobs unconfirmed" in flat and f"flyte hydra status {manifest_path} --wait" in flat, flat
    assert out.count("│ UNCONFIRMED │") == 3 and "FAILED" not in out, out  # the summary's rows
    manifest = load_manifest(manifest_path)
    assert [r.phase for r in manifest.records()] == ["UNCONFIRMED"] * 3, "not FAILED: we could not ask"
    assert all("reconnect within 3 s" in (r.error or "") for r in manifest.records())

    status = flyte_cli(control_plane, project, "hydra", "status", str(manifest_path), "--wait")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "3 succeeded" in status.stdout
    after = load_manifest(manifest_path)
    assert [(r.phase, r.value) for r in after.records()] == [
        ("SUCCEEDED", 2.0),
        ("SUCCEEDED", 4.0),
        ("SUCCEEDED", 6.0),
    ]
    creates = len(control_plane.requests.of("RunService/CreateRun"))
    rerun = flyte_cli(control_plane, project, "hydra", "rerun", str(manifest_path), "--failed")
    assert rerun.returncode == 0 and "No failed or aborted run to rerun." in rerun.stderr, (
        rerun.stdout + rerun.stderr
    )
    assert len(control_plane.requests.of("RunService/CreateRun")) == creates, "rerun created nothing"
    assert runs_named(control_plane, "lim-") == names
    control_plane.reset()


def test_status_reattaches_to_unconfirmed_jobs_and_rerun_leaves_them_alone(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    """UNCONFIRMED is refreshed like any unfinished phase; only a failure the control plane reports is rerun."""
    from flyte_loopback.faults import run_named

    flyte_remote.faults.fail_runs(run_named("unc-1"), "injected: really failed")
    with pytest.raises(SweepFailedError):
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=[lrs(2), f"hydra.sweep.dir={tmp_path / 'sweep'}"], run_options={"name": "unc"})  # fmt: skip
    path = tmp_path / "sweep" / "flyte-sweep.json"
    data = json.loads(path.read_text())
    for job in data["jobs"]:  # as a sweep that lost contact leaves it
        job.update(phase="UNCONFIRMED", value=None, error="lost contact with the control plane ...")
    path.write_text(json.dumps(data))
    refreshed = sweep_status(path)
    assert [(r.phase, r.value) for r in refreshed.records()] == [("SUCCEEDED", 2.0), ("FAILED", None)]
    assert "injected: really failed" in refreshed.records()[1].error
