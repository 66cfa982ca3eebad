"""Detached sweeps' pure parts: the setting's checks, the plan's round trip, the driver's loop, the image check."""

from __future__ import annotations

import asyncio
import json
import sys
import types

import flyte
import pytest

from hydra_flyte.durable.driver import job_group, job_of_group, run_plan
from hydra_flyte.durable.plan import PlannedJob, decode, encode
from hydra_flyte.durable.submit import check_image
from hydra_flyte.errors import ConfigurationError
from hydra_flyte.settings_schema import LaunchSettings
from hydra_flyte.state.phases import ABORTED, FAILED, SUCCEEDED

env = flyte.TaskEnvironment(name="durable_unit", image="example.com/prebuilt:1")


@env.task
async def doubled(x: float) -> float:
    return 2 * x


def test_detach_needs_remote_mode_and_a_positive_max_concurrency() -> None:
    with pytest.raises(ConfigurationError, match="detach runs the sweep on a Flyte cluster.*mode is 'local'"):
        LaunchSettings(mode="local", detach=True)
    with pytest.raises(ConfigurationError, match="max_concurrency must be a positive integer, got 0"):
        LaunchSettings(max_concurrency=0)
    assert LaunchSettings(detach=True).detach is True


def test_a_plan_carries_a_task_with_its_overrides_by_module_and_name() -> None:
    task = doubled.override(env_vars={"JOB": "3"})
    (back,) = decode(encode([PlannedJob(3, ("x=1",), task, (), {"x": 1.5})]))
    assert back.job == 3 and back.overrides == ("x=1",) and back.kwargs == {"x": 1.5}
    assert back.task.func is doubled.func and back.task.env_vars == {"JOB": "3"}


def test_groups_name_the_jobs_and_only_ours_parse() -> None:
    assert job_of_group(job_group(12)) == 12
    assert job_of_group("job-x") is None and job_of_group("preprocess") is None


class _Fake:
    """A task stand-in: `.aio` sleeps, counts how many run at once, fails for the given values."""

    def __init__(self, state: dict, fail: set[float]) -> None:
        self.state, self.fail = state, fail

    async def aio(self, x: float) -> float:
        self.state["now"] += 1
        self.state["peak"] = max(self.state["peak"], self.state["now"])
        try:
            await asyncio.sleep(0.01 * (1 + x % 3))
            if x in self.fail:
                raise RuntimeError(f"bad x={x}")
            return x * 10
        finally:
            self.state["now"] -= 1


def _jobs(n: int, fail: set[float] = frozenset()) -> tuple[list[PlannedJob], dict]:
    state = {"now": 0, "peak": 0}
    task = _Fake(state, set(fail))
    return [PlannedJob(i, (f"x={i}",), task, (), {"x": float(i)}) for i in reversed(range(n))], state


def test_the_driver_loop_runs_at_most_max_concurrency_and_reports_every_job_in_order() -> None:
    jobs, state = _jobs(12, fail={5.0})
    outcomes = asyncio.run(run_plan(jobs, max_concurrency=3, fail_fast=False))
    assert state["peak"] == 3
    assert [o["job"] for o in outcomes] == list(range(12))
    assert [o["phase"] for o in outcomes] == [SUCCEEDED] * 5 + [FAILED] + [SUCCEEDED] * 6
    assert outcomes[5]["error"] == "RuntimeError: bad x=5.0" and outcomes[4]["value"] == 40.0
    json.dumps(outcomes)  # the driver's output is JSON


def test_fail_fast_in_the_driver_aborts_the_jobs_not_finished() -> None:
    jobs, _ = _jobs(10, fail={9.0})  # (the first one started)
    outcomes = asyncio.run(run_plan(jobs, max_concurrency=2, fail_fast=True))
    phases = [o["phase"] for o in outcomes]
    assert phases[9] == FAILED and phases.count(ABORTED) >= 7
    assert all(o["error"].startswith("fail_fast") for o in outcomes if o["phase"] == ABORTED)


def test_the_driver_image_must_be_able_to_have_core() -> None:
    check_image(doubled)  # a prebuilt image: the user's word
    check_image(
        types.SimpleNamespace(image=flyte.Image.from_debian_base().with_pip_packages("hydra-flyte-core"))
    )
    with pytest.raises(ConfigurationError, match="does not install hydra-flyte-core.*with_pip_packages"):
        check_image(types.SimpleNamespace(image=flyte.Image.from_debian_base(), name="env.t"))
    with pytest.raises(ConfigurationError, match="does not install hydra-flyte-core"):
        check_image(types.SimpleNamespace(image="auto", name="env.t"))
    assert "hydra_flyte.durable.driver" in sys.modules


def test_a_detached_optuna_sweep_is_not_rerun_outside_its_study(tmp_path, monkeypatch) -> None:
    from hydra_flyte.durable.rerun import rerun_detached
    from hydra_flyte.state.manifest import Manifest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    manifest = Manifest.create(tmp_path, sweep_id="hf-0ptuna00", mode="remote")
    manifest.plan([(0, ["x=1"], None)])
    manifest.driven_by(run_name="hf-0ptuna00", url="http://cp/runs/hf-0ptuna00", max_concurrency=2)
    manifest.driver = {**manifest.driver, "kind": "optuna"}
    manifest.finished(0, phase=FAILED, error="boom")
    with pytest.raises(ConfigurationError, match="detached Optuna sweep.*Start a new sweep"):
        rerun_detached(manifest)
