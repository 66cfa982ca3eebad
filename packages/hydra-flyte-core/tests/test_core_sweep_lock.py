"""One sweep per directory: the lock a sweep holds on its sweep directory (local sweeps, real Hydra)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from core_tasks import fails_when_sgd, objective

from hydra_flyte import ConfigurationError, HydraFlyteError, hydra_sweep
from hydra_flyte.state.sweep_lock import (
    LOCK_NAME,
    SweepDirectoryInUseError,
    lock_sweep_dir,
    release_sweep_lock,
)


def sweep(conf_dir: str, sweep_dir: Path, *overrides: str) -> list:
    return hydra_sweep(
        objective, config_path=conf_dir, config_name="training", mode="local",
        overrides=["optimizer.lr=0.1,0.2", f"hydra.sweep.dir={sweep_dir}", *overrides],
    )  # fmt: skip


def test_a_held_directory_refuses_a_sweep_before_anything_is_written(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    held = lock_sweep_dir(sweep_dir)
    held.describe(sweep_id="hf-holder")
    try:
        with pytest.raises(SweepDirectoryInUseError) as info:
            sweep(conf_dir, sweep_dir)
    finally:
        release_sweep_lock(held)
    message = str(info.value)
    assert str(sweep_dir.resolve()) in message
    assert "sweep hf-holder" in message and f"pid {os.getpid()}" in message
    assert "hydra.sweep.dir=" in message
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, HydraFlyteError)
    # Refused before Hydra's sweeper saved multirun.yaml and before any job ran.
    assert sorted(p.name for p in sweep_dir.iterdir()) == [LOCK_NAME]


def test_the_lock_is_released_when_the_sweep_ends(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    assert [float(r) for r in sweep(conf_dir, sweep_dir)] == pytest.approx([0.1 * 18, 0.2 * 18])
    again = sweep(conf_dir, sweep_dir)  # the same directory, after the first sweep ended
    assert len(again) == 2
    release_sweep_lock(lock_sweep_dir(sweep_dir))  # free: this process can take it


def test_the_lock_is_released_when_a_job_fails(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    with pytest.raises(HydraFlyteError):
        hydra_sweep(fails_when_sgd, config_path=conf_dir, config_name="training", mode="local",
                    overrides=["optimizer=sgd,adam", f"hydra.sweep.dir={sweep_dir}"])  # fmt: skip
    release_sweep_lock(lock_sweep_dir(sweep_dir))


def test_a_lock_left_by_a_killed_process_does_not_block(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    holder = textwrap.dedent(
        f"""
        import sys, time
        from hydra_flyte.state.sweep_lock import lock_sweep_dir
        lock_sweep_dir({str(sweep_dir)!r}).describe(sweep_id="hf-killed")
        print("held", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(SweepDirectoryInUseError, match="sweep hf-killed"):
            sweep(conf_dir, sweep_dir)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(sweep(conf_dir, sweep_dir)) == 2, "the kernel dropped the dead process's lock"


def test_a_dry_run_takes_no_lock(conf_dir: str, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    held = lock_sweep_dir(sweep_dir)
    try:
        plans = hydra_sweep(
            objective, config_path=conf_dir, config_name="training", mode="local", dry_run=True,
            overrides=["optimizer.lr=0.1,0.2", f"hydra.sweep.dir={sweep_dir}"],
        )  # fmt: skip
    finally:
        release_sweep_lock(held)
    assert len(plans) == 2
