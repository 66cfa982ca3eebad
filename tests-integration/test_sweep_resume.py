"""`--resume` against the loopback control plane: finish a killed or refused sweep, one run per job.

Through the three entry points (the SDK's sweep_driver.py, `flyte hydra run`, a `@hydra.main`
app): a 100-job sweep is SIGKILLed while it submits (early, in the middle, late; one position per
entry point keeps the suite fast), then resumed with the same command plus the resume option.
Runs are accepted in record-only "succeeded" mode (no task executes), so the kills land where the
test wants them and the sweeps stay quick.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from connectrpc.code import Code
from flyte_loopback import ControlPlane
from flyte_loopback.faults import run_named
from hydra_tasks import objective

from hydra_flyte import ConfigurationError, SweepFailedError, hydra_sweep, load_manifest

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
FLYTE = Path(sys.executable).with_name("flyte")
JOBS = 100

pytestmark = pytest.mark.slow


def command(entry: str, name: str, jobs: int, resume: str | None = None) -> list[str]:
    """The sweep's command for one entry point, into `sweep/` of the project; plus the resume option."""
    lrs = ",".join(str(n + 1) for n in range(jobs))
    if entry == "sdk":
        extra = [f'resume="{resume}"'] if resume else []
        return [sys.executable, "sweep_driver.py", "sweep", name, str(jobs), "submit_max_workers=2", *extra]
    if entry == "cli":
        extra = ["--resume", resume] if resume else []
        return [str(FLYTE), "hydra", "run", "--multirun", *extra, "--submit-max-workers", "2", "--config-path",
                "conf", "--config-name", "training", "--name", name, "--hydra-override", "hydra.sweep.dir=sweep",
                "hydra_tasks.py", "objective", "--cfg", f"optimizer.lr={lrs}"]  # fmt: skip
    extra = [f"hydra.launcher.resume={resume}"] if resume else []
    return [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", f"optimizer.lr={lrs}",
            "hydra.sweep.dir=sweep", f"+hydra.launcher.run_options.name={name}",
            "hydra.launcher.submit_max_workers=2", *extra]  # fmt: skip


def env_for(cp: ControlPlane, project: Path) -> dict[str, str]:
    env = cp.env(cp.write_flyte_config(project / "flyte.yaml"))
    env["COLUMNS"] = "400"
    return env


def creates(cp: ControlPlane) -> int:
    return len(cp.requests.of("RunService/CreateRun"))


def runs_per_job(cp: ControlPlane, sweep_id: str) -> dict[int, list[str]]:
    """The runs the control plane holds for each job of the sweep (by the labels our runs carry)."""
    per_job: dict[int, list[str]] = collections.defaultdict(list)
    for created in cp.requests.created_runs():
        if created.labels.get("hydra-flyte-sweep") == sweep_id:
            per_job[int(created.labels["hydra-flyte-job"])].append(created.name)
    return per_job


@pytest.mark.parametrize(
    ("entry", "kill_after"),
    [("sdk", 5), ("cli", JOBS // 2), ("launcher", JOBS - 10)],
    ids=["sdk-early", "cli-middle", "launcher-late"],
)
def test_sigkill_during_submission_then_resume_gives_every_job_one_run(
    flyte_remote: ControlPlane, project: Path, entry: str, kill_after: int
) -> None:
    cp = flyte_remote
    cp.faults.set_record_only("succeeded")
    cp.faults.add_latency("RunService/CreateRun", 0.05)
    env = env_for(cp, project)
    name = f"kr{entry}"  # run names are unique on the control plane, which outlives each test
    proc = subprocess.Popen(command(entry, name, JOBS), cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while creates(cp) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=60)[0]
    killed_at = creates(cp)
    assert proc.returncode == -signal.SIGKILL, out
    assert kill_after <= killed_at < JOBS, (
        f"killed after {killed_at} CreateRuns, wanted {kill_after}: {out[-2000:]}"
    )
    time.sleep(0.3)  # a CreateRun still in its injected latency lands now
    manifest = load_manifest(project / "sweep")
    sweep_id = manifest.sweep_id

    resumed = subprocess.run(command(entry, name, JOBS, resume=str(project / "sweep")), cwd=project, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    text = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, text[-4000:]
    assert f"Resuming sweep {sweep_id}" in text
    after = load_manifest(project / "sweep")
    assert after.sweep_id == sweep_id and len(after.records()) == JOBS
    assert [r.phase for r in after.records()] == ["SUCCEEDED"] * JOBS
    per_job = runs_per_job(cp, sweep_id)
    assert sorted(per_job) == list(range(JOBS))
    doubled = {job: names for job, names in per_job.items() if len(names) != 1}
    assert not doubled, f"jobs with more than one run (none failed): {doubled}"
    assert all(cp.runs[names[0]].phase == "SUCCEEDED" for names in per_job.values())
    assert {r.run_name for r in after.records()} == {names[0] for names in per_job.values()}
    print(f"{entry}: killed after {killed_at} CreateRuns; resume created {creates(cp) - killed_at}")

    if entry == "cli":  # resuming a complete sweep submits nothing and prints the summary
        before = creates(cp)
        again = subprocess.run(command(entry, name, JOBS, resume=sweep_id), cwd=project, env=env,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert creates(cp) == before
        assert f"{JOBS} succeeded" in again.stdout
        assert f"{JOBS} succeeded (kept), 0 waited on, 0 submitted under their planned names" in again.stderr


def test_all_submissions_refused_then_resume_submits_each_job_once(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    cp = flyte_remote
    cp.faults.set_record_only("succeeded")
    cp.faults.fail_create_run(1, code=Code.PERMISSION_DENIED, times=10)
    sweep_dir = tmp_path / "sweep"
    args = dict(config_path=CONF, config_name="training", run_options={"name": "pd"},
                overrides=["optimizer.lr=" + ",".join(str(n) for n in range(1, 11)), f"hydra.sweep.dir={sweep_dir}"])  # fmt: skip
    with pytest.raises(SweepFailedError):
        hydra_sweep(objective, **args)
    assert cp.requests.created_runs() == [] and creates(cp) == 10, "each job asked once, all refused"
    cp.faults.clear()
    cp.faults.set_record_only("succeeded")
    results = hydra_sweep(objective, resume=sweep_dir, **args)
    assert len(results) == 10
    manifest = load_manifest(sweep_dir)
    per_job = runs_per_job(cp, manifest.sweep_id)
    assert {job: len(names) for job, names in per_job.items()} == {n: 1 for n in range(10)}
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED"] * 10
    assert [r.run_name for r in manifest.records()] == [f"pd-{n}-r1" for n in range(10)]
    assert all(
        len(r.attempts) == 1 and r.attempts[0]["run_name"] == f"pd-{r.job}" for r in manifest.records()
    )
    before = creates(cp)
    hydra_sweep(objective, resume=manifest.sweep_id, **args)  # twice: nothing more
    assert creates(cp) == before


def test_resume_keeps_succeeded_values_and_reruns_only_the_failed_job(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    cp = flyte_remote
    cp.faults.fail_runs(run_named("kv-1"), "injected: node lost")
    sweep_dir = tmp_path / "sweep"
    args = dict(config_path=CONF, config_name="training", run_options={"name": "kv"},
                overrides=["optimizer.lr=1,2,3", f"hydra.sweep.dir={sweep_dir}"])  # fmt: skip
    with pytest.raises(SweepFailedError):
        hydra_sweep(objective, **args)
    cp.faults.clear()
    before = [c.name for c in cp.requests.created_runs()]
    results = hydra_sweep(objective, resume=str(sweep_dir / "flyte-sweep.json"), **args)
    assert [float(r) for r in results] == [2.0, 4.0, 6.0], "kept values reported as if the jobs had run"
    assert [r.url for r in results][0].endswith("/runs/kv-0")
    assert [c.name for c in cp.requests.created_runs()][len(before) :] == ["kv-1-r1"]
    record = load_manifest(sweep_dir).records()[1]
    assert (record.run_name, record.phase, record.attempts[0]["phase"]) == ("kv-1-r1", "SUCCEEDED", "FAILED")
    assert (sweep_dir / "0" / ".hydra" / "hydra.yaml").is_file()


def test_resume_refuses_a_different_job_list_naming_the_first_differing_job(
    flyte_remote: ControlPlane, tmp_path: Path
) -> None:
    cp = flyte_remote
    cp.faults.set_record_only("succeeded")
    sweep_dir = tmp_path / "sweep"
    hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2,3", f"hydra.sweep.dir={sweep_dir}"])  # fmt: skip
    before = creates(cp)
    with pytest.raises(
        ConfigurationError,
        match=r"job 1 differs: the manifest has \[optimizer.lr=2\], this sweep composes \[optimizer.lr=5\]",
    ):
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,5,3"], resume=sweep_dir)  # fmt: skip
    with pytest.raises(
        ConfigurationError, match=r"composes 2 jobs, the manifest has 3; job 2 \[optimizer.lr=3\]"
    ):
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2"], resume=sweep_dir)  # fmt: skip
    with pytest.raises(ConfigurationError, match="cannot resume a sweep"):
        hydra_sweep(objective, config_path=CONF, config_name="training", resume=sweep_dir,
                    overrides=["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(1,2)"])  # fmt: skip
    with pytest.raises(ConfigurationError, match="no sweep manifest"):
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2,3"], resume=tmp_path / "nope")  # fmt: skip
    assert creates(cp) == before, "nothing submitted"
