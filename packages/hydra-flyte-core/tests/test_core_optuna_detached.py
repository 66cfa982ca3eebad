"""A detached optuna_async sweep's pure parts: the driver's loop (trials composed, n_jobs in flight, told),
the study as JSON and back, and what reading the driver's end records (overrides, results file, storage)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from hydra_flyte.errors import ConfigurationError
from hydra_flyte.optuna.detached import config_slot, read_config_files, record_end
from hydra_flyte.optuna.driver import OptunaPlan, run_study, trial_from_json, trial_json
from hydra_flyte.state.manifest import Manifest
from hydra_flyte.state.phases import ABORTED, FAILED, SUCCEEDED

FILES = {
    "main.yaml": "defaults:\n  - model: small\n  - _self_\nlr: 0.1\n",
    "model/small.yaml": "depth: 2\n",
    "model/large.yaml": "depth: 10\n",
}


def plan(**changes: Any) -> OptunaPlan:
    fields: dict[str, Any] = dict(
        task=object(), args=(), kwargs={"cfg": None, "offset": 1.0}, config_slot=("kwarg", "cfg"),
        task_env_key="task_env", config_files=FILES, config_name="main", job_name="unit", sweep_config={},
        params=None, arguments=["lr=interval(0.01,1.0)", "model=choice(small,large)"], search_space=None,
        sampler={"_target_": "optuna.samplers.RandomSampler", "seed": 4}, directions=["minimize"],
        n_trials=7, n_jobs=3, max_failure_rate=0.5, study_name="unit", custom_search_space=None, sweep_id="s1",
    )  # fmt: skip
    fields.update(changes)
    return OptunaPlan(**fields)


def test_the_driver_composes_each_trial_keeps_n_jobs_in_flight_and_tells_every_value() -> None:
    running: set[int] = set()
    peak = 0
    seen: dict[int, DictConfig] = {}

    async def call(job: int, task: Any, args: Any, kwargs: dict[str, Any]) -> float:
        nonlocal peak
        running.add(job)
        peak = max(peak, len(running))
        await asyncio.sleep(0.01 * (job % 3))
        running.discard(job)
        cfg = kwargs["cfg"]
        seen[job] = cfg
        assert kwargs["offset"] == 1.0 and "hydra" not in cfg
        return float(cfg.lr) * cfg.model.depth + kwargs["offset"]

    output = asyncio.run(run_study(plan(), call=call))
    assert peak == 3
    assert [o["job"] for o in output["outcomes"]] == list(range(7))
    trials = {t["user_attrs"]["hydra-flyte-job"]: t for t in output["study"]["trials"]}
    for outcome in output["outcomes"]:
        job, cfg = outcome["job"], seen[outcome["job"]]
        assert outcome["phase"] == SUCCEEDED
        assert outcome["value"] == pytest.approx(float(cfg.lr) * cfg.model.depth + 1.0)
        params = dict(o.split("=", 1) for o in outcome["overrides"])
        assert (
            cfg.model.depth == {"small": 2, "large": 10}[params["model"]]
        )  # composed from the shipped files
        assert trials[job]["params"]["lr"] == pytest.approx(float(params["lr"]))
        assert trials[job]["values"] == [pytest.approx(outcome["value"])]
    best = min(o["value"] for o in output["outcomes"])
    assert output["results"]["best_value"] == pytest.approx(best)
    assert output["stopped"] is False


def test_the_driver_stops_asking_above_max_failure_rate() -> None:
    async def call(job: int, task: Any, args: Any, kwargs: dict[str, Any]) -> float:
        raise RuntimeError(f"job {job} broke")

    output = asyncio.run(run_study(plan(n_jobs=1, max_failure_rate=0.0), call=call))
    assert [(o["job"], o["phase"]) for o in output["outcomes"]] == [(0, FAILED)]
    assert "job 0 broke" in output["outcomes"][0]["error"]
    assert output["results"] is None and output["stopped"] is True


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_as_json_comes_back_as_the_same_trial() -> None:
    study = optuna.create_study()
    trial = study.ask()
    trial.suggest_float("lr", 0.01, 1.0, log=True)
    trial.suggest_categorical("model", ["small", "large"])
    trial.set_user_attr("hydra-flyte-job", 3)
    study.tell(trial, 0.5)
    (frozen,) = study.trials
    data = json.loads(json.dumps(trial_json(frozen, optuna)))
    other = optuna.create_study()
    other.add_trial(trial_from_json(data, optuna))
    (copy,) = other.trials
    assert copy.params == frozen.params and copy.value == 0.5 and copy.distributions == frozen.distributions
    assert copy.user_attrs == {"hydra-flyte-job": 3} and copy.state.name == "COMPLETE"


def test_the_composed_config_must_be_exactly_one_input() -> None:
    cfg = OmegaConf.create({"a": 1})
    assert config_slot((1, cfg), {}) == ("arg", 1)
    assert config_slot((), {"cfg": cfg, "n": 2}) == ("kwarg", "cfg")
    with pytest.raises(ConfigurationError, match="exactly one DictConfig"):
        config_slot((cfg,), {"other": cfg})


def test_the_config_directory_is_read_without_hidden_files(tmp_path: Path) -> None:
    for name, text in {**FILES, ".hidden/x.yaml": "a: 1\n", "notes.txt": "no"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert read_config_files(str(tmp_path)) == FILES
    assert read_config_files(None) is None


def test_reading_the_drivers_end_records_overrides_results_and_the_storage(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    OmegaConf.save(
        OmegaConf.create({"hydra": {"sweeper": {"storage": storage, "study_name": "kept"}}}),
        tmp_path / "multirun.yaml",
    )
    manifest = Manifest.create(tmp_path, sweep_id="s1", mode="local")
    manifest.plan((n, (), None) for n in range(3))
    output = asyncio.run(run_study(plan(n_trials=2, n_jobs=2), call=_double))
    for outcome in output["outcomes"]:
        manifest.finished(outcome["job"], phase=outcome["phase"], value=outcome["value"])
    record_end(manifest, output)
    record_end(manifest, output)  # read twice (waiting, then status): the storage gets each trial once
    assert [r.overrides for r in manifest.records()[:2]] == [o["overrides"] for o in output["outcomes"]]
    assert manifest.jobs[2].phase == ABORTED and manifest.jobs[2].overrides == []
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results == output["results"]
    stored = optuna.load_study(study_name="kept", storage=storage)
    assert sorted(t.value for t in stored.trials) == sorted(o["value"] for o in output["outcomes"])
    assert {t.user_attrs["hydra-flyte-sweep"] for t in stored.trials} == {"s1"}


async def _double(job: int, task: Any, args: Any, kwargs: dict[str, Any]) -> float:
    return float(kwargs["cfg"].lr) * 2
