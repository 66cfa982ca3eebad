"""`hydra/sweeper=optuna_async` against the loopback control plane: trials stream, no batch barrier.

A control plane of its own with 4 execution slots (the session's has 2), so `n_jobs` trials
really run at once. The objective's run time is one of its parameters (`+sleep`), set by trial
number through `custom_search_space`: trial 0 is slow, the others are quick.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from flyte_loopback import ControlPlane
from flyte_loopback._sdk_private import restored_flyte_init
from optuna_tasks import STAGGERED, timed_objective

from hydra_flyte import hydra_sweep

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
JOB_LABEL = "hydra-flyte-job"

pytestmark = pytest.mark.slow


@pytest.fixture
def remote4(cp4: ControlPlane) -> Iterator[ControlPlane]:
    from conftest import init_flyte_for

    cp4.reset()
    with restored_flyte_init():
        init_flyte_for(cp4)
        yield cp4
    cp4.reset()


def runs_by_job(cp: ControlPlane) -> dict[int, object]:
    return {int(cp.runs[name].labels[JOB_LABEL]): cp.runs[name] for name in cp.runs.names()}


def test_trials_stream_out_of_order_and_values_reach_the_study(
    remote4: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    sweep_dir = tmp_path / "sweep"
    results = hydra_sweep(
        timed_objective,
        config_path=CONF,
        config_name="training",
        overrides=[
            "hydra/sweeper=optuna_async",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.n_jobs=3",
            "hydra.sweeper.sampler.seed=3",
            f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.study_name=stream",
            "hydra.sweeper.custom_search_space=optuna_tasks.staggered_sleep",
            "optimizer.lr=interval(0.01,1.0)",
            "model=choice(small,large)",
            f"hydra.sweep.dir={sweep_dir}",
        ],
    )
    assert len(results) == 6
    runs = runs_by_job(remote4)
    assert sorted(runs) == list(range(6))
    first = [runs[j].root for j in range(3)]
    slowest = max(first, key=lambda action: action.ended_at)
    assert slowest is runs[0].root  # the 4 s trial
    # Out of order: quick trials finished while trial 0 was still running ...
    assert runs[1].root.ended_at < runs[0].root.ended_at and runs[2].root.ended_at < runs[0].root.ended_at
    # ... and their slots were refilled at once: trials 3 and 4 were submitted before trial 0 ended.
    assert runs[3].created_at < runs[0].root.ended_at and runs[4].created_at < runs[0].root.ended_at
    # No more than n_jobs in flight: trial 3 was created only after one of the first three ended.
    assert runs[3].created_at >= min(a.ended_at for a in first)

    # Told values are the runs' outputs, trial by trial (a fresh study: trial number == job number).
    study = optuna.load_study(study_name="stream", storage=storage)
    told = {t.number: t.value for t in study.trials}
    assert told == pytest.approx({j: float(results[j]) for j in range(6)})
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    for j, result in enumerate(results):  # each value is lr * depth + sleep of its own trial
        params = study.trials[j].params
        depth = {"small": 2, "large": 10}[params["model"]]
        assert float(result) == pytest.approx(params["optimizer.lr"] * depth + STAGGERED[j])

    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(float(r) for r in results))
    assert best["best_params"] == study.best_trial.params
    # Hydra's layout: one directory per job with its .hydra snapshots, the manifest, multirun.yaml.
    for j in range(6):
        assert (sweep_dir / str(j) / ".hydra" / "overrides.yaml").is_file()
    assert (sweep_dir / "multirun.yaml").is_file()
    manifest = (sweep_dir / "flyte-sweep.json").read_text()
    assert manifest.count('"SUCCEEDED"') == 6
    out = capsys.readouterr().err  # progress: stderr
    assert out.count("Submitted ") == 6  # each trial's URL, as it was submitted


def test_the_guides_optuna_example_with_optuna_async_remotely(
    flyte_remote: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walkthrough's Optuna sweep (examples/), `hydra/sweeper=optuna` replaced by `optuna_async`."""
    from conftest import init_flyte_for

    examples = HERE.parent / "examples"
    monkeypatch.syspath_prepend(str(examples))
    monkeypatch.chdir(tmp_path)
    from train import pipeline

    init_flyte_for(flyte_remote, root_dir=examples)  # bundle train.py from examples/
    results = hydra_sweep(
        pipeline,
        config_path=str(examples / "conf"),
        config_name="training",
        overrides=["hydra/sweeper=optuna_async", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2",
                   "optimizer.lr=interval(1e-4,1e-1)", "training.epochs=3"],
        dataset="digits",
    )  # fmt: skip
    assert len(results) == 3 and all(0.0 < float(r) < 5.0 for r in results)
    assert len(flyte_remote.requests.created_runs()) == 3


def test_failed_runs_are_told_as_failed_trials(remote4: ControlPlane, tmp_path: Path) -> None:
    from hydra_flyte import SweepFailedError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(
            timed_objective,
            config_path=CONF,
            config_name="training",
            overrides=["hydra/sweeper=optuna_async", "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3",
                       "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=2",
                       "hydra.sweeper.max_failure_rate=1.0", f"hydra.sweeper.storage={storage}",
                       "hydra.sweeper.study_name=failures", "+sleep=0.2", "+fail=choice(true,false)",
                       "optimizer.lr=interval(0.01,1.0)", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        )  # fmt: skip
    outcomes = {o.job_num: o for o in info.value.outcomes}
    assert sorted(outcomes) == list(range(6))  # max_failure_rate=1.0: every trial was asked and run
    study = optuna.load_study(study_name="failures", storage=storage)
    runs = runs_by_job(remote4)
    for trial in study.trials:
        failed = trial.params["+fail"] == "true" or trial.params["+fail"] is True
        assert trial.state.name == ("FAIL" if failed else "COMPLETE")
        assert runs[trial.number].phase == ("FAILED" if failed else "SUCCEEDED")
        assert outcomes[trial.number].ok is not failed
        if not failed:
            assert trial.value == pytest.approx(float(outcomes[trial.number].result))
