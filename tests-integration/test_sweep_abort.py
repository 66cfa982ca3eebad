"""`flyte hydra abort SWEEP` and `abort_sweep`: a sweep's unfinished runs aborted, against the loopback control plane.

Sweeps are started as a user starts them (`flyte hydra run --multirun --no-wait`), with some jobs
ending at once, some hanging (a fault: RUNNING for ever, no process) and some running a real task
process for minutes. The assertions compare what the command printed, what the manifest records
and what the control plane holds: only what the control plane confirmed is recorded, nothing is
aborted that is not this sweep's, and a job the control plane could not be reached for is left as
it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from flyte_loopback import ControlPlane
from flyte_loopback.faults import run_named

from hydra_flyte import Manifest, abort_sweep, load_manifest

HERE = Path(__file__).resolve().parent
FLYTE = Path(sys.executable).with_name("flyte")
SMALL = ("--config-path", "conf", "--config-name", "training")

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(HERE / "conf", root / "conf")
    shutil.copy(HERE / "nap_tasks.py", root / "nap_tasks.py")
    return root


@pytest.fixture
def own_cp(tmp_path: Path, control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """A control plane of the test's own (4 root and 4 child slots), to stop and start: the session's is left alone."""
    cp = ControlPlane(
        tmp_path / "own-cp",
        home=control_plane.home,
        root_slots=4,
        child_slots=4,
        profile=control_plane.profile,
    )
    cp.start()
    try:
        yield cp
    finally:
        cp.close()


def flyte_cli(
    cp: ControlPlane, cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real `flyte` command of this environment, pointed at the control plane."""
    return subprocess.run(
        [str(FLYTE), *args], cwd=cwd, env=cli_env(cp, cwd), capture_output=True, text=True, timeout=timeout
    )


def cli_env(cp: ControlPlane, cwd: Path) -> dict[str, str]:
    env = cp.env(cp.write_flyte_config(cwd / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    return env


def start_sweep(cp: ControlPlane, project: Path, name: str, *args: str) -> Path:
    """`flyte hydra run --multirun --no-wait --name NAME ... nap_tasks.py nap ARGS`; the sweep directory."""
    sweep = project / "sweep"
    result = flyte_cli(
        cp, project, "hydra", "run", *SMALL, "--multirun", "--no-wait", "--name", name,
        "--hydra-override", f"hydra.sweep.dir={sweep}", "nap_tasks.py", "nap", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return sweep


def table(stdout: str) -> list[tuple[int, str, str]]:
    """(job, phase, value / error) of each row of the summary table on stdout."""
    lines = stdout.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.startswith("│") and line.split("│")[1].strip() == "job"
    )
    names = [cell.strip() for cell in lines[header].strip("│").split("│")]
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("│"):
            break
        row = dict(zip(names, (cell.strip() for cell in line.strip("│").split("│")), strict=True))
        rows.append((int(row["job"].replace("★", "").strip()), row["phase"], row["value / error"]))
    return rows


def aborts_sent(cp: ControlPlane) -> list[str]:
    return sorted(r.request.run_id.name for r in cp.requests.of("RunService/AbortRun"))


def test_abort_aborts_every_unfinished_run_and_records_what_the_control_plane_confirmed(
    own_cp: ControlPlane, project: Path
) -> None:
    cp = own_cp
    cp.faults.hang_runs(run_named("ab-1"))  # RUNNING for ever, no process
    # Jobs 0 and 1 nap 0 s, jobs 2 and 3 run a real task process for 300 s.
    sweep = start_sweep(cp, project, "ab", "--cfg", "+nap=0,300", "--cfg", "optimizer.lr=1,2")
    cp.wait_for_phase("ab-0", ("SUCCEEDED",), timeout=120)
    for name in ("ab-1", "ab-2", "ab-3"):
        cp.wait_for_phase(name, ("RUNNING",), timeout=120)
    wait_until(lambda: all(cp.run(n).root.process is not None for n in ("ab-2", "ab-3")), timeout=120)
    manifest_path = sweep / "flyte-sweep.json"
    assert [r.phase for r in load_manifest(manifest_path).records()] == ["SUBMITTED"] * 4, (
        "as --no-wait left it"
    )

    result = flyte_cli(cp, project, "hydra", "abort", str(sweep))
    assert result.returncode == 0, result.stdout + result.stderr

    # The control plane: every unfinished run aborted (the task processes killed), the finished one untouched.
    assert aborts_sent(cp) == ["ab-1", "ab-2", "ab-3"], "no abort sent for the run that had ended"
    assert [cp.run(f"ab-{n}").root.phase_name for n in range(4)] == [
        "SUCCEEDED",
        "ABORTED",
        "ABORTED",
        "ABORTED",
    ]
    wait_until(
        lambda: all(cp.run(n).root.process.returncode is not None for n in ("ab-2", "ab-3")), timeout=30
    )
    assert all(
        cp.run(n).root.abort_reason == "hydra-flyte: sweep aborted with `flyte hydra abort`"
        for n in ("ab-1", "ab-2", "ab-3")
    )

    # The manifest: what the control plane confirmed, the finished job with its value.
    records = load_manifest(manifest_path).records()
    assert [(r.phase, r.value) for r in records] == [
        ("SUCCEEDED", 2.0),
        ("ABORTED", None),
        ("ABORTED", None),
        ("ABORTED", None),
    ]
    assert [r.error for r in records[1:]] == [
        f"ActionAbortedError: Run ab-{n} was aborted: hydra-flyte: sweep aborted with `flyte hydra abort`"
        for n in (1, 2, 3)
    ], "the abort reason, as the control plane recorded it"

    # stdout: the summary, as `status` prints it (errors clipped); stderr: what was done, job by job.
    rows = table(result.stdout)
    assert [(n, phase) for n, phase, _ in rows] == [
        (0, "SUCCEEDED"),
        (1, "ABORTED"),
        (2, "ABORTED"),
        (3, "ABORTED"),
    ]
    assert rows[0][2] == "2.0"
    assert all(body.startswith(f"ActionAbortedError: Run ab-{n} was aborted") for n, _, body in rows[1:]), (
        rows
    )
    assert result.stdout.splitlines()[-1] == f"Manifest: {manifest_path}"
    err = " ".join(result.stderr.split())
    for n in (1, 2, 3):
        assert f"job {n}: aborted run ab-{n}" in err, err
    assert "job 0: run ab-0 had already ended: SUCCEEDED" in err and "Aborted 3 runs" in err, err

    # Again: nothing left to abort, nothing sent, the manifest as it was.
    before = manifest_path.read_text()
    again = flyte_cli(cp, project, "hydra", "abort", str(manifest_path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing to abort" in again.stderr and aborts_sent(cp) == ["ab-1", "ab-2", "ab-3"]
    assert json.loads(manifest_path.read_text())["jobs"] == json.loads(before)["jobs"]


def test_jobs_never_submitted_stay_planned_and_nothing_is_aborted_for_them(
    own_cp: ControlPlane, project: Path
) -> None:
    cp = own_cp
    cp.faults.hang_runs(lambda target: True)
    cp.faults.set_run_quota(1)  # one job gets in; the other waits for capacity, then is left PLANNED
    sweep = project / "sweep"
    started = flyte_cli(
        cp, project, "hydra", "run", *SMALL, "--multirun", "--no-wait", "--name", "pl", "--capacity-timeout", "2",
        "--hydra-override", f"hydra.sweep.dir={sweep}", "nap_tasks.py", "nap", "--cfg", "optimizer.lr=1,2",
    )  # fmt: skip
    assert started.returncode == 1, started.stdout + started.stderr
    phases = [r.phase for r in load_manifest(sweep).records()]
    assert sorted(phases) == ["PLANNED", "SUBMITTED"], phases
    ran, never = (
        phases.index("SUBMITTED"),
        phases.index("PLANNED"),
    )  # submitted concurrently: either may get in

    result = flyte_cli(cp, project, "hydra", "abort", str(sweep))
    assert result.returncode == 0, result.stdout + result.stderr
    assert aborts_sent(cp) == [f"pl-{ran}"] and cp.run(f"pl-{ran}").root.phase_name == "ABORTED"
    assert f"pl-{never}" not in cp.runs.names()
    expected = {ran: "ABORTED", never: "PLANNED"}
    assert [(n, phase) for n, phase, _ in table(result.stdout)] == sorted(expected.items())
    assert [r.phase for r in load_manifest(sweep).records()] == [expected[0], expected[1]], (
        "PLANNED stays PLANNED"
    )
    err = " ".join(result.stderr.split())
    assert f"job {never}: not submitted, nothing to abort (no run named pl-{never})" in err, err
    assert "Aborted 1 run; 1 job with nothing to abort." in err, err


def test_a_control_plane_that_is_down_aborts_nothing_and_leaves_every_job_as_it_was(
    own_cp: ControlPlane, project: Path
) -> None:
    cp = own_cp
    cp.faults.hang_runs(lambda target: True)
    sweep = start_sweep(cp, project, "dn", "--cfg", "optimizer.lr=1,2")
    for name in ("dn-0", "dn-1"):
        cp.wait_for_phase(name, ("RUNNING",), timeout=60)
    manifest_path = sweep / "flyte-sweep.json"
    before = manifest_path.read_text()
    env = cli_env(cp, project)
    cp.stop()
    try:
        result = subprocess.run(
            [str(FLYTE), "hydra", "abort", str(sweep), "--reconnect-timeout", "1"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        cp.start()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"cannot reach the Flyte endpoint {cp.endpoint}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert manifest_path.read_text() == before, "no job changed"
    assert [cp.run(n).root.phase_name for n in ("dn-0", "dn-1")] == ["RUNNING", "RUNNING"]

    # Once the control plane is back, the same command does it (and `-of json` gives the document).
    done = flyte_cli(cp, project, "-of", "json", "hydra", "abort", str(sweep))
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert [(j["job"], j["phase"]) for j in document["jobs"]] == [(0, "ABORTED"), (1, "ABORTED")]
    assert [cp.run(n).root.phase_name for n in ("dn-0", "dn-1")] == ["ABORTED", "ABORTED"]


def test_contact_lost_during_the_abort_leaves_the_jobs_unconfirmed_and_as_they_were(
    own_cp: ControlPlane, project: Path
) -> None:
    cp = own_cp
    cp.faults.hang_runs(lambda target: True)
    sweep = start_sweep(cp, project, "cut", "--cfg", "optimizer.lr=1,2")
    for name in ("cut-0", "cut-1"):
        cp.wait_for_phase(name, ("RUNNING",), timeout=60)
    manifest_path = sweep / "flyte-sweep.json"
    before = json.loads(manifest_path.read_text())["jobs"]
    cp.faults.add_latency("AbortRun", 5.0)  # the control plane goes away while it holds the aborts
    proc = subprocess.Popen(
        [str(FLYTE), "hydra", "abort", str(sweep), "--reconnect-timeout", "2"],
        cwd=project, env=cli_env(cp, project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: bool(cp.requests.of("RunService/AbortRun")) or proc.poll() is not None, timeout=60)
        cp.stop()
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        if not cp.running:
            cp.start()
    assert proc.returncode == 1, out + err
    flat = " ".join(err.split())
    for n in (0, 1):
        assert f"job {n}: unconfirmed, left as recorded (SUBMITTED): " in flat, flat
    assert "2 jobs unconfirmed (job 0, job 1; why on their lines above)" in flat, flat
    assert f"flyte hydra abort {manifest_path}" in flat, "how to finish the abort"
    assert "Traceback" not in err
    assert [phase for _, phase, _ in table(out)] == ["SUBMITTED", "SUBMITTED"], "the summary: as recorded"
    assert json.loads(manifest_path.read_text())["jobs"] == before, "no job changed"
    assert [cp.run(n).root.phase_name for n in ("cut-0", "cut-1")] == ["RUNNING", "RUNNING"], (
        "the aborts never landed"
    )


def test_a_run_under_a_jobs_name_that_is_not_this_sweeps_is_never_aborted(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    import flyte
    from loopback_tasks import sleep

    cp = flyte_remote
    cp.faults.hang_runs(run_named("theirs-0"))
    flyte.with_runcontext(mode="remote", name="theirs-0").run(sleep, seconds=1.0)  # no hydra-flyte labels
    cp.wait_for_phase("theirs-0", ("RUNNING",), timeout=60)
    manifest = Manifest.create(tmp_path / "sweep", sweep_id="hf-0ab0ab01", task="loopback.sleep")
    manifest.plan([(0, ["x=1"], "theirs-0")])
    manifest.submitted(0, run_name="theirs-0", url=f"{cp.endpoint}/runs/theirs-0")
    manifest.save()

    outcome = abort_sweep(tmp_path / "sweep")
    assert aborts_sent(cp) == [] and cp.run("theirs-0").root.phase_name == "RUNNING", "left alone"
    assert outcome.confirmed and outcome.aborted == [] and list(outcome.nothing_to_abort) == [0]
    (record,) = load_manifest(tmp_path / "sweep").records()
    assert record.phase == "SUBMIT_FAILED" and "theirs-0" in (record.error or ""), (
        "as `status` records a clash"
    )


def detached_jobs(cp: ControlPlane, driver: str) -> dict[int, str]:
    """Each job's child action phase in a detached sweep's driver run, by job number."""
    from hydra_flyte.durable.driver import job_of_group

    if driver not in cp.runs.names():
        return {}
    found = {job_of_group(a.group): a.phase_name for a in cp.run(driver).actions.values() if a.parent}
    return {job: phase for job, phase in found.items() if job is not None}


def start_detached(cp: ControlPlane, project: Path, *args: str) -> tuple[Path, str]:
    """`flyte hydra run --multirun --detach ... nap_tasks.py nap ARGS` (returns at once): the sweep directory and driver run."""
    sweep = project / "sweep"
    result = flyte_cli(
        cp, project, "hydra", "run", *SMALL, "--multirun", "--detach", "--max-concurrency", "4",
        "--hydra-override", f"hydra.sweep.dir={sweep}", "nap_tasks.py", "nap", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    driver = load_manifest(sweep).driver
    assert driver and driver["run_name"], "a detached sweep's manifest names its driver run"
    return sweep, driver["run_name"]


def test_a_detached_sweep_is_aborted_through_its_one_driver_run(own_cp: ControlPlane, project: Path) -> None:
    cp = own_cp
    sweep, driver = start_detached(cp, project, "--cfg", "+nap=0,300", "--cfg", "optimizer.lr=1,2")
    wait_until(
        lambda: detached_jobs(cp, driver) == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "RUNNING", 3: "RUNNING"},
        timeout=180,
    )
    assert [r.phase for r in load_manifest(sweep).records()] == ["SUBMITTED"] * 4, "as --detach left it"

    result = flyte_cli(cp, project, "hydra", "abort", str(sweep))
    assert result.returncode == 0, result.stdout + result.stderr
    assert aborts_sent(cp) == [driver], "one abort, for the driver run"
    assert cp.run(driver).root.phase_name == "ABORTED"
    assert detached_jobs(cp, driver) == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "ABORTED", 3: "ABORTED"}, (
        "cascaded"
    )
    # Recorded as `status` records a detached sweep: the jobs that ended first keep their phase.
    phases = ["SUCCEEDED", "SUCCEEDED", "ABORTED", "ABORTED"]
    assert [r.phase for r in load_manifest(sweep).records()] == phases
    assert [phase for _, phase, _ in table(result.stdout)] == phases
    err = " ".join(result.stderr.split())
    for n in (2, 3):
        assert f"job {n}: aborted with the sweep's driver run {driver}" in err, err
    for n in (0, 1):
        assert f"job {n}: had already ended: SUCCEEDED" in err, err
    assert f"Aborted the sweep's driver run {driver} (2 jobs); 2 jobs had already ended." in err, err


def test_a_detached_sweep_that_has_ended_is_recorded_and_nothing_is_sent(
    own_cp: ControlPlane, project: Path
) -> None:
    cp = own_cp
    sweep, driver = start_detached(cp, project, "--cfg", "optimizer.lr=1,2")
    cp.wait_for_phase(driver, ("SUCCEEDED",), timeout=180)
    assert [r.phase for r in load_manifest(sweep).records()] == ["SUBMITTED"] * 2, (
        "the manifest does not know yet"
    )

    result = flyte_cli(cp, project, "hydra", "abort", str(sweep))
    assert result.returncode == 0, result.stdout + result.stderr
    assert aborts_sent(cp) == [], "nothing to abort"
    assert [(r.phase, r.value) for r in load_manifest(sweep).records()] == [
        ("SUCCEEDED", 2.0),
        ("SUCCEEDED", 4.0),
    ]
    assert "2 jobs had already ended." in " ".join(result.stderr.split())
