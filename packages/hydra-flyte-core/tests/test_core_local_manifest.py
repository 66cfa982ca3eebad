"""Local sweeps write the sweep manifest too: phases, values, errors and durations of real local runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_tasks import fails_when_sgd, objective
from omegaconf import OmegaConf

from hydra_flyte import (
    ConfigurationError,
    SweepFailedError,
    hydra_sweep,
    load_manifest,
    rerun_failed,
    sweep_status,
)
from hydra_flyte.remote.resume import RESUMABLE_SWEEPERS, prepare
from hydra_flyte.remote.submit import LaunchSettings


def _sweep_with_a_failure(conf_dir: str, sweep_dir: Path) -> None:
    with pytest.raises(SweepFailedError):
        hydra_sweep(
            fails_when_sgd,
            config_path=conf_dir,
            config_name="training",
            overrides=["optimizer=adam,sgd", "optimizer.lr=0.5", f"hydra.sweep.dir={sweep_dir}"],
            mode="local",
        )


def test_local_sweep_records_every_job(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=["optimizer.lr=0.25,0.5,1", f"hydra.sweep.dir={sweep_dir}"],
        mode="local",
    )
    manifest = load_manifest(sweep_dir)
    assert manifest.mode == "local" and manifest.endpoint is None
    records = manifest.records()
    assert [r.overrides for r in records] == [["optimizer.lr=0.25"], ["optimizer.lr=0.5"], ["optimizer.lr=1"]]
    assert [r.phase for r in records] == ["SUCCEEDED"] * 3
    assert [r.value for r in records] == [float(r) for r in results] == pytest.approx([4.5, 9.0, 18.0])
    assert all(r.url is None and r.run_name is None and r.error is None for r in records)
    assert all(r.duration_seconds is not None and r.duration_seconds > 0 for r in records)


def test_failed_local_job_is_recorded_with_its_error(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    _sweep_with_a_failure(conf_dir, sweep_dir)
    adam, sgd = load_manifest(sweep_dir).records()
    assert (adam.phase, adam.value) == ("SUCCEEDED", 0.5)
    assert sgd.phase == "FAILED" and sgd.value is None
    assert "sgd diverged at step 3" in (sgd.error or "")
    assert sgd.duration_seconds is not None


def test_status_of_a_local_sweep_needs_no_control_plane(
    conf_dir: str, tmp_path: Path, no_flyte_endpoint: None
) -> None:
    sweep_dir = tmp_path / "sweep"
    _sweep_with_a_failure(conf_dir, sweep_dir)
    before = (sweep_dir / "flyte-sweep.json").read_text()
    manifest = sweep_status(sweep_dir)  # no Flyte config anywhere: a remote sweep would fail here
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED", "FAILED"]
    assert (sweep_dir / "flyte-sweep.json").read_text() == before


def test_rerun_and_resume_of_a_local_sweep_say_why_not(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    _sweep_with_a_failure(conf_dir, sweep_dir)
    with pytest.raises(
        ConfigurationError, match=r"is a local sweep \(failed: job 1\).*no Flyte run to rerun"
    ):
        rerun_failed(sweep_dir)
    config = OmegaConf.create(
        {"hydra": {"sweeper": {"_target_": next(iter(RESUMABLE_SWEEPERS))}, "overrides": {"hydra": []},
                   "sweep": {"dir": str(tmp_path / "elsewhere")}}}
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="local sweep's manifest.*cannot be resumed"):
        prepare(config, LaunchSettings(resume=str(sweep_dir)))  # what the launcher's setup calls


_SLOW_SWEEP = """
import asyncio, sys
import flyte
from omegaconf import DictConfig
from hydra_flyte import hydra_sweep

env = flyte.TaskEnvironment(name="slow")

@env.task
async def slow(cfg: DictConfig) -> float:
    if cfg.optimizer.lr > 0.15:
        await asyncio.sleep(60)  # interrupted here
    return float(cfg.optimizer.lr)

hydra_sweep(slow, config_path=sys.argv[1], config_name="training", mode="local",
            overrides=["optimizer.lr=0.1,0.2,0.3", "hydra.sweep.dir=" + sys.argv[2]])
"""


def test_interrupted_local_sweep_records_what_ran_and_what_did_not(conf_dir: str, tmp_path: Path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "slow_sweep.py"
    script.write_text(_SLOW_SWEEP)
    sweep_dir = tmp_path / "sweep"
    manifest_path = sweep_dir / "flyte-sweep.json"
    proc = subprocess.Popen(
        [sys.executable, str(script), conf_dir, str(sweep_dir)], cwd=tmp_path,
        env={**os.environ, "DO_NOT_TRACK": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until job 0 has finished and job 1 is running
            try:
                phases = [r["phase"] for r in json.loads(manifest_path.read_text())["jobs"]]
            except (OSError, ValueError):
                phases = []
            if phases[:2] == ["SUCCEEDED", "RUNNING"]:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0, out
    manifest = json.loads(manifest_path.read_text())
    assert manifest["interrupted"] is True
    assert [(r["job"], r["phase"]) for r in manifest["jobs"]] == [
        (0, "SUCCEEDED"),
        (1, "ABORTED"),
        (2, "NOT_SUBMITTED"),
    ]
    assert manifest["jobs"][0]["value"] == 0.1
