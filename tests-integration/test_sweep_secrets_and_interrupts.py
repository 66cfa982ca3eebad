"""Secrets stay out of the sweep directory, and Ctrl-C at any point says how to resume.

- No value of `run_options.env_vars` / `--env` / `hydra.launcher.run_options.env_vars` is in any file
  of the sweep directory, for the SDK, the CLI and the launcher (and of a single launcher run's run
  directory); the runs still get the values.
- SIGINT while submitting (and while waiting) prints the manifest and the entry point's exact resume
  command, with the root options (`-c CONFIG`) for the CLI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_until
from flyte_loopback import ControlPlane
from hydra_tasks import objective

from hydra_flyte import hydra_sweep, load_manifest

HERE = Path(__file__).resolve().parent
FLYTE = Path(sys.executable).with_name("flyte")

pytestmark = pytest.mark.slow


def files_holding(directory: Path, secret: str) -> list[Path]:
    """Every file under `directory` (hidden ones too) whose bytes contain `secret`."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            found.append(path)
    return found


def all_files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


# -- secrets -----------------------------------------------------------------------------------


def test_sdk_env_vars_are_in_no_file(flyte_remote: ControlPlane, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    hydra_sweep(objective, config_path=str(HERE / "conf"), config_name="training",
                overrides=["optimizer.lr=1,2", f"hydra.sweep.dir={sweep_dir}"],
                run_options={"name": "sec-sdk", "env_vars": {"API_TOKEN": "tok-sdk-91f2"}})  # fmt: skip
    assert len(all_files(sweep_dir)) >= 8, all_files(sweep_dir)  # manifest, multirun.yaml, 2 x .hydra/*
    assert files_holding(sweep_dir, "tok-sdk-91f2") == []
    assert {c.env_vars.get("API_TOKEN") for c in flyte_remote.requests.created_runs()} == {"tok-sdk-91f2"}


def test_cli_env_values_are_in_no_file(flyte_remote: ControlPlane, project: Path) -> None:
    env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
    cli = subprocess.run(
        [str(FLYTE), "hydra", "run", "--multirun", "--config-path", "conf", "--config-name", "training",
         "--name", "sec-cli", "--env", "API_TOKEN=tok-cli-5c1e", "--hydra-override", "hydra.sweep.dir=sweep",
         "hydra_tasks.py", "objective", "--cfg", "optimizer.lr=1,2"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "multirun.yaml" in all_files(project / "sweep")
    assert files_holding(project / "sweep", "tok-cli-5c1e") == []
    assert {c.env_vars.get("API_TOKEN") for c in flyte_remote.requests.created_runs()} == {"tok-cli-5c1e"}


def test_launcher_env_vars_are_redacted_in_every_snapshot(flyte_remote: ControlPlane, project: Path) -> None:
    env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
    env["SECOND_SECRET"] = "tok-env-77aa"
    app = subprocess.run(
        [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", "optimizer.lr=1,2",
         "hydra.sweep.dir=sweep", "+hydra.launcher.run_options.name=sec-app",
         "+hydra.launcher.run_options.env_vars.API_TOKEN=tok-app-3b9d",
         "+hydra.launcher.run_options.env_vars.OTHER='${oc.env:SECOND_SECRET}'"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert app.returncode == 0, app.stdout + app.stderr
    sweep = project / "sweep"
    files = all_files(sweep)
    assert "multirun.yaml" in files and "0/.hydra/hydra.yaml" in files and "1/.hydra/hydra.yaml" in files, (
        files
    )
    for secret in ("tok-app-3b9d", "tok-env-77aa"):
        assert files_holding(sweep, secret) == [], secret
    multirun = (sweep / "multirun.yaml").read_text()
    assert "API_TOKEN: <redacted>" in multirun, "the name is kept"
    assert "OTHER: ${oc.env:SECOND_SECRET}" in multirun, "an interpolation holds no secret: kept as written"
    assert (
        "hydra.launcher.run_options.env_vars.API_TOKEN='<redacted>'"
        in (sweep / "0/.hydra/hydra.yaml").read_text()
    )
    created = flyte_remote.requests.created_runs()
    assert [(c.env_vars["API_TOKEN"], c.env_vars["OTHER"]) for c in created] == [
        ("tok-app-3b9d", "tok-env-77aa")
    ] * 2


def test_a_single_launcher_run_keeps_env_var_values_out_of_its_run_dir(
    flyte_remote: ControlPlane, project: Path
) -> None:
    """No `--multirun`: Hydra saves `.hydra/hydra.yaml` itself, after our callback's on_run_start redacted it."""
    env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
    app = subprocess.run(
        [sys.executable, "launcher_app.py", "hydra/launcher=flyte", "optimizer.lr=1", "hydra.run.dir=single",
         "+hydra.launcher.run_options.name=sec-single",
         "+hydra.launcher.run_options.env_vars.API_TOKEN=tok-single-6d0e"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert app.returncode == 0, app.stdout + app.stderr
    run_dir = project / "single"
    assert ".hydra/hydra.yaml" in all_files(run_dir), all_files(run_dir)
    assert files_holding(run_dir, "tok-single-6d0e") == []
    assert "API_TOKEN: <redacted>" in (run_dir / ".hydra/hydra.yaml").read_text(), "the name is kept"
    created = flyte_remote.requests.created_runs()
    assert [(c.name, c.env_vars["API_TOKEN"]) for c in created] == [("sec-single", "tok-single-6d0e")]


# -- Ctrl-C --------------------------------------------------------------------------------------


def interrupt_during_submission(cp: ControlPlane, proc: subprocess.Popen[str]) -> str:
    wait_until(lambda: len(cp.requests.of("RunService/CreateRun")) >= 2, timeout=120)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode in (1, 2, 130, -signal.SIGINT), out
    return out


def resume_line(out: str) -> str:
    match = re.search(r"Resume with: (.+)", out)
    assert match, out
    return match.group(1).strip()


def test_sigint_during_submission_sdk_prints_manifest_and_resume(
    flyte_remote: ControlPlane, project: Path
) -> None:
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.5)
    env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
    proc = subprocess.Popen([sys.executable, "sweep_driver.py", "sweep", "int-sdk", "30", "submit_max_workers=1"],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    out = interrupt_during_submission(flyte_remote, proc)
    manifest_path = (project / "sweep" / "flyte-sweep.json").resolve()
    assert "Interrupted while submitting:" in out and f"Manifest: {manifest_path}" in out, out
    assert f"resume='{manifest_path}'" in resume_line(out)
    assert f"Reattach with: flyte hydra status {manifest_path} --wait" in out
    manifest = load_manifest(manifest_path)
    assert manifest.interrupted
    sent = {r.run_name for r in manifest.records() if r.phase != "PLANNED"}
    created = {c.request.run_id.name for c in flyte_remote.requests.of("RunService/CreateRun")}
    assert created <= {r.run_name for r in manifest.records()}
    assert len(sent) < 30, "the queued submissions were dropped, not sent after the Ctrl-C"
    assert len(created) < 30


def test_sigint_during_submission_cli_resume_command_has_the_root_options(
    flyte_remote: ControlPlane, project: Path
) -> None:
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.5)
    config = flyte_remote.write_flyte_config(project / "explicit.yaml")
    env = flyte_remote.env()
    env.pop("FLYTECTL_CONFIG", None)
    env["COLUMNS"] = "400"
    args = ["--multirun", "--submit-max-workers", "1", "--config-path", "conf", "--config-name", "training",
            "--name", "int-cli", "--hydra-override", "hydra.sweep.dir=sweep", "hydra_tasks.py", "objective",
            "--cfg", "optimizer.lr=" + ",".join(str(n) for n in range(1, 31))]  # fmt: skip
    proc = subprocess.Popen([str(FLYTE), "-c", str(config), "hydra", "run", *args], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    out = interrupt_during_submission(flyte_remote, proc)
    assert proc.returncode == 130, out
    manifest_path = str((project / "sweep" / "flyte-sweep.json").resolve())
    expected = f"flyte -c {config} hydra run --resume {manifest_path} " + " ".join(args)
    assert resume_line(out) == expected, out
    assert f"Reattach with: flyte -c {config} hydra status {manifest_path} --wait" in out


def test_sigint_during_submission_launcher_resume_command_is_the_script_line(
    flyte_remote: ControlPlane, project: Path
) -> None:
    flyte_remote.faults.add_latency("RunService/CreateRun", 0.5)
    env = flyte_remote.env(flyte_remote.write_flyte_config(project / "flyte.yaml"))
    lrs = ",".join(str(n) for n in range(1, 31))
    args = ["launcher_app.py", "--multirun", "hydra/launcher=flyte", f"optimizer.lr={lrs}", "hydra.sweep.dir=sweep",
            "hydra.launcher.submit_max_workers=1"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, *args], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    out = interrupt_during_submission(flyte_remote, proc)
    manifest_path = str((project / "sweep" / "flyte-sweep.json").resolve())
    assert resume_line(out) == " ".join([sys.executable, *args, f"hydra.launcher.resume={manifest_path}"]), (
        out
    )
    assert os.path.isfile(manifest_path)
