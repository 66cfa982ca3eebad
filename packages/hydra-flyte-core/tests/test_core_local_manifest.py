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
from hydra_flyte._resume import RESUMABLE_SWEEPERS, prepare
from hydra_flyte._submit import LaunchSettings


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
