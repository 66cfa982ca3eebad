"""hydra_run / hydra_sweep in remote mode against the loopback Flyte control plane (real runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane
from hydra_tasks import fails_for_sgd, objective

from hydra_flyte import RunFailedError, RunResult, SweepFailedError, hydra_run, hydra_sweep

CONF = str(Path(__file__).resolve().parent / "conf")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def submitted_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("Submitted ")]


def test_single_run_prints_its_url_and_returns_the_value(
    flyte_remote: ControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    result = hydra_run(
        objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=0.5"], offset=1.0
    )
    assert isinstance(result, RunResult)
    assert float(result) == pytest.approx(0.5 * 2 + 1.0)
    (line,) = submitted_lines(capsys.readouterr().err)
    assert line == f"Submitted {result.name} (optimizer.lr=0.5): {result.url}"
    assert result.url.startswith(flyte_remote.endpoint) and result.url.endswith(f"/runs/{result.name}")
    methods = flyte_remote.requests.methods()
    assert methods.index("RunService/CreateRun") < methods.index("RunService/WatchActionDetails")


def test_grid_sweep_submits_every_job_before_waiting(
    flyte_remote: ControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    results = hydra_sweep(
        objective,
        config_path=CONF,
        config_name="training",
        overrides=["model=small,large", "optimizer.lr=0.25,0.5"],
    )
    assert [float(r) for r in results] == pytest.approx([0.5, 1.0, 2.5, 5.0])
    creates = [r.arrived_at for r in flyte_remote.requests.of("RunService/CreateRun")]
    watches = [r.arrived_at for r in flyte_remote.requests.of("RunService/WatchActionDetails")]
    assert len(creates) == 4 and max(creates) < min(watches)
    assert len(submitted_lines(capsys.readouterr().err)) == 4


def test_fire_and_forget_returns_the_submitted_runs(flyte_remote: ControlPlane) -> None:
    from flyte.remote import Run

    runs = hydra_sweep(
        objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2"], wait=False
    )
    assert all(isinstance(r, Run) for r in runs)
    assert not flyte_remote.requests.of("RunService/WatchActionDetails")
    for run in runs:
        assert flyte_remote.wait_for_phase(run.name, ("SUCCEEDED",), timeout=60).phase == "SUCCEEDED"


def test_optuna_reads_objectives_from_remote_runs(flyte_remote: ControlPlane) -> None:
    results = hydra_sweep(
        objective,
        config_path=CONF,
        config_name="training",
        overrides=[
            "hydra/sweeper=optuna",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.sampler.seed=1",
            "optimizer.lr=interval(0.01,1.0)",
        ],
    )
    assert len(results) == 4 and all(0.02 <= float(r) <= 2.0 for r in results)
    assert len(flyte_remote.requests.created_runs()) == 4


def test_run_options_reach_every_create_run_with_distinct_names(flyte_remote: ControlPlane) -> None:
    results = hydra_sweep(
        objective,
        config_path=CONF,
        config_name="training",
        overrides=["optimizer.lr=1,2,3"],
        run_options={
            "name": "opts-sweep",
            "service_account": "trainer",
            "env_vars": {"STAGE": "it"},
            "labels": {"team": "ml"},
        },
    )
    assert [r.name for r in results] == ["opts-sweep-0", "opts-sweep-1", "opts-sweep-2"]
    for created in flyte_remote.requests.created_runs():
        assert created.env_vars["STAGE"] == "it"
        assert created.labels["team"] == "ml"
        assert created.run_spec.security_context.run_as.k8s_service_account == "trainer"


def test_task_env_for_the_entry_task_reaches_the_control_plane(flyte_remote: ControlPlane) -> None:
    small = hydra_run(objective, config_path=CONF, config_name="training", overrides=["+task_env=big"])
    imaged = hydra_run(objective, config_path=CONF, config_name="training", overrides=["+task_env=image"])
    big_run = flyte_remote.requests.created_run(small.name)
    assert big_run.resources["requests"]["cpu"] == "3" and big_run.resources["requests"]["memory"] == "3Gi"
    image_run = flyte_remote.requests.created_run(imaged.name)
    assert image_run.image == "ghcr.io/acme/prebuilt:7"
    assert image_run.task_spec.task_template.HasField("k8s_pod")


def test_task_env_for_a_child_task_through_apply_task_env(flyte_remote: ControlPlane) -> None:
    from conftest import init_flyte_for

    sys.path.insert(0, str(EXAMPLES))
    from train import pipeline

    init_flyte_for(flyte_remote, root_dir=EXAMPLES)  # bundle train.py from examples/

    result = hydra_run(
        pipeline,
        config_path=str(EXAMPLES / "conf"),
        config_name="training",
        overrides=["+task_env=a100", "training.epochs=5"],
        dataset="digits",
    )
    assert 0.0 < float(result) < 5.0
    root = flyte_remote.requests.created_run(result.name)
    assert root.resources["requests"]["cpu"] == "2"
    actions = flyte_remote.runs[result.name].actions
    by_task = {a.task_name.rsplit(".", 1)[-1]: a for a in actions.values() if not a.is_root}
    assert set(by_task) == {"preprocess", "train_model"}
    assert by_task["train_model"].resources["requests"] == {"cpu": "12", "memory": "85Gi", "gpu": "1"}
    assert by_task["preprocess"].resources["requests"].get("cpu") != "12", "only train_model is overridden"


def test_a_failing_job_fails_with_its_url_and_message_and_the_others_survive(
    flyte_remote: ControlPlane,
) -> None:
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(fails_for_sgd, config_path=CONF, config_name="training", overrides=["optimizer=adam,sgd"])
    ok, failed = info.value.outcomes
    assert ok.ok and float(ok.result) == pytest.approx(0.001)
    assert isinstance(failed.error, RunFailedError)
    assert failed.error.phase == "FAILED"
    assert "loss exploded with lr=0.1" in failed.error.message
    assert failed.error.url and failed.error.url.startswith(flyte_remote.endpoint)
    assert failed.error.url in str(info.value)


def test_single_failing_run_raises_with_url_phase_and_message(flyte_remote: ControlPlane) -> None:
    with pytest.raises(RunFailedError, match=r"ended in phase FAILED: .*loss exploded with lr=0.1") as info:
        hydra_run(fails_for_sgd, config_path=CONF, config_name="training", overrides=["optimizer=sgd"])
    assert info.value.url.startswith(flyte_remote.endpoint)
