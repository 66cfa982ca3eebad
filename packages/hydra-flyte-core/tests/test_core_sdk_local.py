"""hydra_run / hydra_sweep in local mode: real runs through Flyte's local runner.

Each row of the guide's override grammar table has a test here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from core_tasks import echo_config, fails_when_sgd, objective, optional_config, two_outputs, with_config_param
from hydra.core.config_store import ConfigStore

from hydra_flyte import RunFailedError, RunResult, SweepFailedError, hydra_run, hydra_sweep


def composed(result: RunResult) -> dict:
    return json.loads(result.value)["cfg"]


def run_echo(conf_dir: str, *overrides: str, **kwargs: object) -> dict:
    result = hydra_run(
        echo_config,
        config_path=conf_dir,
        config_name="training",
        overrides=list(overrides),
        mode="local",
        **kwargs,
    )
    assert isinstance(result, RunResult)
    return composed(result)


# --- single runs ---------------------------------------------------------------------------------


def test_single_run_returns_the_value_with_defaults(conf_dir: str) -> None:
    cfg = run_echo(conf_dir)
    assert cfg["optimizer"] == {"name": "adam", "lr": 0.001, "weight_decay": 0.0}
    assert cfg["tag"] == "resnet-adam"
    assert "hydra" not in cfg


def test_task_keyword_arguments_reach_the_task(conf_dir: str) -> None:
    result = hydra_run(echo_config, config_path=conf_dir, config_name="training", mode="local", note="hello")
    assert json.loads(result.value)["note"] == "hello"


def test_relative_config_path_is_resolved_against_the_working_directory(
    conf_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(conf_dir).parent)
    result = hydra_run(objective, config_path="conf", config_name="training", mode="local")
    assert float(result) == pytest.approx(0.001 * 18)


def test_set_an_existing_key(conf_dir: str) -> None:
    assert run_echo(conf_dir, "optimizer.lr=0.01")["optimizer"]["lr"] == 0.01


def test_select_a_config_group(conf_dir: str) -> None:
    cfg = run_echo(conf_dir, "optimizer=sgd")
    assert cfg["optimizer"] == {"name": "sgd", "lr": 0.1, "weight_decay": 0.0001, "momentum": 0.9}
    assert cfg["tag"] == "resnet-sgd"


def test_append_a_config_group(conf_dir: str) -> None:
    cfg = run_echo(conf_dir, "+task_env=a100")
    assert cfg["task_env"]["pipeline"]["resources"] == {"cpu": "16", "memory": "64Gi", "gpu": "A100:1"}


def test_append_a_new_key(conf_dir: str) -> None:
    assert run_echo(conf_dir, "+training.grad_clip=1.0")["training"]["grad_clip"] == 1.0


def test_force_set_creates_or_overrides(conf_dir: str) -> None:
    cfg = run_echo(conf_dir, "++optimizer.lr=0.05", "++training.new_key=7")
    assert cfg["optimizer"]["lr"] == 0.05
    assert cfg["training"]["new_key"] == 7


def test_delete_a_key(conf_dir: str) -> None:
    assert "warmup_steps" not in run_echo(conf_dir, "~training.warmup_steps")["training"]


def test_hydra_run_dir_is_where_the_job_writes_its_snapshot(conf_dir: str, tmp_path: Path) -> None:
    run_echo(conf_dir, "hydra.run.dir=./outputs/exp1", "optimizer.lr=0.02")
    snapshot = tmp_path / "outputs" / "exp1" / ".hydra"
    assert (snapshot / "config.yaml").is_file()
    assert "optimizer.lr=0.02" in (snapshot / "overrides.yaml").read_text()


def test_task_with_a_parameter_named_config(conf_dir: str) -> None:
    result = hydra_run(
        with_config_param,
        config_path=conf_dir,
        config_name="training",
        overrides=["optimizer=sgd"],
        mode="local",
    )
    assert result.value == 0.1


def test_two_outputs_iterate(conf_dir: str) -> None:
    name, lr = hydra_run(two_outputs, config_path=conf_dir, config_name="training", mode="local")
    assert (name, lr) == ("resnet", 0.001)


@dataclass
class _Optimizer:
    name: str = "adam"
    lr: float = 0.003


@dataclass
class _StructuredRoot:
    optimizer: _Optimizer = field(default_factory=_Optimizer)
    epochs: int = 30


ConfigStore.instance().store(name="core_structured", node=_StructuredRoot)


def test_configstore_only_structured_config(conf_dir: str) -> None:
    result = hydra_run(
        optional_config, config_path=None, config_name="core_structured", dataset="d", mode="local"
    )
    assert result.value == "d:adam"
    results = hydra_sweep(
        with_config_param,
        config_path=None,
        config_name="core_structured",
        overrides=["optimizer.lr=0.1,0.2", "epochs=1,2"],
        mode="local",
    )
    assert [r.value for r in results] == [0.1, 0.1, 0.2, 0.2]


def test_failed_local_run_raises_with_the_task_message(conf_dir: str) -> None:
    with pytest.raises(RunFailedError, match="sgd diverged at step 3") as info:
        hydra_run(
            fails_when_sgd,
            config_path=conf_dir,
            config_name="training",
            overrides=["optimizer=sgd"],
            mode="local",
        )
    assert info.value.phase == "FAILED"


# --- sweeps --------------------------------------------------------------------------------------


def test_grid_sweep_in_basic_sweeper_order(conf_dir: str, tmp_path: Path) -> None:
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=["model=resnet,vit", "optimizer.lr=0.001,0.01,0.1"],
        mode="local",
    )
    expected = [lr * depth for depth in (18, 12) for lr in (0.001, 0.01, 0.1)]
    assert [float(r) for r in results] == pytest.approx(expected)
    sweep_dirs = list((tmp_path / "multirun").glob("*/*"))
    assert len(sweep_dirs) == 1
    assert (sweep_dirs[0] / "multirun.yaml").is_file()
    assert sorted(p.name for p in sweep_dirs[0].iterdir() if p.is_dir()) == [str(i) for i in range(6)]


def test_sweep_dir_and_subdir(conf_dir: str, tmp_path: Path) -> None:
    hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=[
            "hydra.sweep.dir=./outputs/sweep1",
            "hydra.sweep.subdir=lr_${optimizer.lr}",
            "optimizer.lr=0.5,0.25",
        ],
        mode="local",
    )
    root = tmp_path / "outputs" / "sweep1"
    assert (root / "multirun.yaml").is_file()
    assert (root / "lr_0.5" / ".hydra" / "config.yaml").is_file()
    assert (root / "lr_0.25" / ".hydra" / "overrides.yaml").is_file()


def test_appended_group_sweeps_alongside_values(conf_dir: str) -> None:
    results = hydra_sweep(
        echo_config,
        config_path=conf_dir,
        config_name="training",
        overrides=["+task_env=small,a100", "optimizer.lr=0.1"],
        mode="local",
    )
    cpus = [composed(r)["task_env"]["pipeline"]["resources"]["cpu"] for r in results]
    assert cpus == ["2", "16"]


def test_choice_sweeps_a_group_in_the_basic_sweeper(conf_dir: str) -> None:
    results = hydra_sweep(
        echo_config,
        config_path=conf_dir,
        config_name="training",
        overrides=["optimizer=choice(adam,sgd)"],
        mode="local",
    )
    assert [composed(r)["optimizer"]["name"] for r in results] == ["adam", "sgd"]


def test_optuna_sweeper_gets_real_objectives(conf_dir: str) -> None:
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=[
            "hydra/sweeper=optuna",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.sampler.seed=7",
            "optimizer.lr=interval(1e-4,1e-1)",
            "model=choice(resnet,vit)",
        ],
        mode="local",
    )
    assert len(results) == 4
    values = [float(r) for r in results]
    assert all(0.0001 * 12 <= v <= 0.1 * 18 for v in values)
    assert len(set(values)) == 4, "each trial samples its own lr"


def test_failed_job_does_not_lose_the_others(conf_dir: str) -> None:
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(
            fails_when_sgd,
            config_path=conf_dir,
            config_name="training",
            overrides=["optimizer=adam,sgd,adam"],
            mode="local",
        )
    error = info.value
    assert "1 of 3 jobs failed" in str(error)
    assert "job 1 [optimizer=sgd]" in str(error) and "sgd diverged at step 3" in str(error)
    assert [o.ok for o in error.outcomes] == [True, False, True]
    assert [float(r) if r is not None else None for r in error.results] == [0.001, None, 0.001]


def test_sweep_without_sweep_overrides_is_one_job(conf_dir: str) -> None:
    results = hydra_sweep(objective, config_path=conf_dir, config_name="training", mode="local", scale=2.0)
    assert [float(r) for r in results] == pytest.approx([0.001 * 18 * 2])


def test_redundant_flyte_launcher_selection_is_accepted(conf_dir: str) -> None:
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=["hydra/launcher=flyte", "optimizer.lr=1,2"],
        mode="local",
    )
    assert [float(r) for r in results] == [18.0, 36.0]


def test_on_job_end_sees_each_jobs_real_outcome(conf_dir: str) -> None:
    import core_callbacks

    from hydra_flyte import RunFailedError

    core_callbacks.SEEN.clear()
    with pytest.raises(SweepFailedError):
        hydra_sweep(
            fails_when_sgd, config_path=conf_dir, config_name="training",
            overrides=["optimizer=adam,sgd", "+hydra.callbacks.rec._target_=core_callbacks.RecordingCallback"],
            mode="local",
        )  # fmt: skip
    (ok_status, ok_value), (failed_status, failed_value) = core_callbacks.SEEN
    assert ok_status == "COMPLETED" and isinstance(ok_value, RunResult) and float(ok_value) == 0.001
    assert failed_status == "FAILED" and isinstance(failed_value, RunFailedError)


def test_a_sweep_keeps_the_older_heap_out_of_gc_passes_from_batch_validation_on(
    conf_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from hydra.plugins.sweeper import Sweeper

    seen: list[int] = []
    validate = Sweeper.validate_batch_is_legal

    def recording(self: Sweeper, batch: object) -> None:
        seen.append(gc.get_freeze_count())
        validate(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(Sweeper, "validate_batch_is_legal", recording)
    before = gc.get_freeze_count()
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        overrides=["optimizer.lr=0.1,0.2"],
        mode="local",
    )
    assert len(results) == 2
    assert seen and all(count > before for count in seen), "frozen while the batch was validated"
    assert gc.get_freeze_count() == before, "and unfrozen after the sweep"
