"""hydra/sweeper=optuna_async without a control plane: its grammar, samplers, discovery, local mode.

These run on whichever Optuna the environment has: 2.10 beside hydra-optuna-sweeper in the
default and min environments, the newest 5.x without it in `optuna-latest`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna")  # every hatch environment that runs this file installs it

from core_tasks import fails_when_sgd, objective  # noqa: E402

from hydra_flyte import ConfigurationError, SweepFailedError, hydra_sweep  # noqa: E402
from hydra_flyte.optuna.space import (  # noqa: E402
    Dimension,
    build_sampler,
    build_search_space,
    directions_of,
    objective_values,
)


def test_grammar_of_the_stock_sweeper() -> None:
    space = build_search_space(
        {"optimizer.lr": "tag(log, interval(1e-4, 1e-1))", "model": "choice(resnet, vit)"},
        ["x=interval(0.0, 1)", "n=interval(1, 8)", "k=range(1, 5)", "f=range(0.5, 2.0, 0.5)",
         "s=shuffle(range(3))", "fixed=7", "model=choice(vit, resnet, mlp)"],
    )  # fmt: skip
    dims = {d.name: d for d in space.dimensions}
    assert dims["optimizer.lr"] == Dimension("optimizer.lr", "float", low=1e-4, high=1e-1, log=True)
    assert dims["x"] == Dimension("x", "float", low=0.0, high=1.0)
    assert dims["n"] == Dimension("n", "float", low=1.0, high=8.0)  # Hydra parses interval ends as floats
    assert dims["k"] == Dimension("k", "int", low=1, high=5, step=1)
    assert dims["f"] == Dimension("f", "float", low=0.5, high=2.0, step=0.5)
    assert dims["s"].kind == "categorical" and sorted(dims["s"].choices) == [0, 1, 2]
    assert dims["model"].choices == ("vit", "resnet", "mlp")  # the command line wins over params
    assert space.fixed == (("fixed", "7"),)
    # A grid takes the values below a range's stop, as hydra-optuna-sweeper's does.
    assert dims["k"].grid_values() == [1, 2, 3, 4]
    with pytest.raises(ConfigurationError, match=r"grid sampler needs discrete dimensions, but x"):
        dims["x"].grid_values()


def test_directions_and_objective_values() -> None:
    assert directions_of("maximize") == ["maximize"]
    assert directions_of(["minimize", "maximize"]) == ["minimize", "maximize"]
    with pytest.raises(ConfigurationError, match=r"'upwards' is not a direction"):
        directions_of("upwards")
    assert objective_values(0.5, 1) == [0.5]
    assert objective_values((1, 2.5), 2) == [1.0, 2.5]
    with pytest.raises(ValueError, match=r"must return 2 numbers, got 3"):
        objective_values((1, 2, 3), 2)
    with pytest.raises(ValueError, match=r"must be a number"):
        objective_values("nan-ish", 1)


def test_samplers_get_only_the_settings_that_are_set() -> None:
    from omegaconf import OmegaConf

    from hydra_plugins.hydra_flyte_optuna_async import GridSamplerConf, TPESamplerConf

    space = build_search_space(None, ["a=choice(1,2)", "b=range(0,3)"])
    tpe = build_sampler(OmegaConf.structured(TPESamplerConf(seed=5, n_startup_trials=3)), space, optuna)
    assert isinstance(tpe, optuna.samplers.TPESampler)
    grid = build_sampler(OmegaConf.structured(GridSamplerConf()), space, optuna)
    assert isinstance(grid, optuna.samplers.GridSampler)
    bad = OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "population": 3})
    with pytest.raises(
        ConfigurationError, match=r"sampler.population=3: RandomSampler of optuna .* has no such"
    ):
        build_sampler(bad, space, optuna)
    missing = OmegaConf.create({"_target_": "optuna.samplers.NoSuchSampler"})
    with pytest.raises(ConfigurationError, match=r"not available in optuna .*its samplers: .*RandomSampler"):
        build_sampler(missing, space, optuna)


def test_hydra_discovers_the_sweeper_and_its_options() -> None:
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper

    from hydra_plugins.hydra_flyte_optuna_async import OptunaAsyncSweeper

    assert OptunaAsyncSweeper in Plugins.instance().discover(Sweeper)
    store = ConfigStore.instance()
    assert "optuna_async.yaml" in store.list("hydra/sweeper")
    samplers = set(store.list("hydra/sweeper/sampler"))
    assert {"tpe.yaml", "random.yaml", "cmaes.yaml", "nsgaii.yaml", "grid.yaml", "qmc.yaml"} <= samplers


def test_plugin_import_is_light_and_missing_optuna_names_the_pip_line() -> None:
    probe = (
        "import sys, json\n"
        "import hydra_plugins.hydra_flyte_optuna_async\n"
        "loaded = 'optuna' in sys.modules\n"
        "sys.modules['optuna'] = None\n"
        "from hydra_flyte.optuna.space import require_optuna\n"
        "try:\n    require_optuna()\n    msg = ''\n"
        "except Exception as exc:\n    msg = str(exc)\n"
        "print(json.dumps({'loaded': loaded, 'msg': msg}))\n"
    )
    out = json.loads(
        subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    )
    assert out["loaded"] is False
    assert 'pip install "hydra-flyte-core[optuna]"' in out["msg"]


@pytest.mark.slow
def test_local_mode_runs_trials_one_at_a_time(conf_dir: str, tmp_path: Path) -> None:
    results = hydra_sweep(
        objective,
        config_path=conf_dir,
        config_name="training",
        mode="local",
        overrides=["hydra/sweeper=optuna_async", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2",
                   "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=1",
                   "optimizer.lr=interval(0.01, 1.0)", "model=choice(resnet, vit)",
                   f"hydra.sweep.dir={tmp_path}"],
    )  # fmt: skip
    values = [float(r) for r in results]
    assert len(values) == 3
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["name"] == "optuna" and best["best_value"] == pytest.approx(min(values))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["0", "1", "2"]


@pytest.mark.slow
def test_local_failures_over_max_failure_rate_fail_the_sweep(conf_dir: str, tmp_path: Path) -> None:
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(
            fails_when_sgd,
            config_path=conf_dir,
            config_name="training",
            mode="local",
            overrides=["hydra/sweeper=optuna_async", "hydra.sweeper.n_trials=4", "optimizer=sgd",
                       "optimizer.lr=interval(0.01, 1.0)", f"hydra.sweep.dir={tmp_path}"],
        )  # fmt: skip
    # max_failure_rate=0: the first failure stops the asking; nothing else was started.
    assert len(info.value.outcomes) == 1 and not info.value.outcomes[0].ok


def test_resume_sorts_the_sweeps_trials_and_re_asks_one_never_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finished trials count; an open trial whose job the manifest never planned is told FAIL and marked."""
    from hydra_flyte.optuna.resume import RESUME_ATTR, resume_trials
    from hydra_flyte.state.manifest import Manifest
    from hydra_flyte.state.phases import FAILED, SUCCEEDED

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the sweep-id index
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s")
    manifest = Manifest.create(tmp_path / "sweep", sweep_id="hf-test")
    manifest.plan([(0, ["x=1"], "hf-test-0"), (1, ["x=2"], "hf-test-1")])
    manifest.finished(0, phase=SUCCEEDED, value=1.0)
    manifest.finished(1, phase=FAILED, error="boom")
    states = optuna.trial.TrialState
    for job, state in ((0, states.COMPLETE), (1, states.FAIL), (2, None)):
        trial = study.ask()
        trial.set_user_attr("hydra-flyte-sweep", "hf-test")
        trial.set_user_attr("hydra-flyte-job", job)
        if state is not None:
            study.tell(trial, 1.0 if state is states.COMPLETE else None, state=state)
    other = study.ask()  # another sweep's trial, still open: left alone
    other.set_user_attr("hydra-flyte-sweep", "hf-other")

    resume = resume_trials(optuna, study, manifest, settings=None, storage=storage)

    assert (resume.finished, resume.re_asked, resume.open) == (2, 1, [])
    (failure,) = resume.failures
    assert failure.overrides == ["x=2"]
    with pytest.raises(RuntimeError, match=r"trial 1 \(job #1\) failed before the resume: boom"):
        failure.return_value  # noqa: B018
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "FAIL", "RUNNING"]
    assert RESUME_ATTR in trials[2].user_attrs and RESUME_ATTR not in trials[1].user_attrs


def test_resume_names_the_settings_when_the_study_has_none_of_the_sweeps_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_flyte.optuna.resume import find_study_name, resume_trials
    from hydra_flyte.state.manifest import Manifest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the sweep-id index
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="elsewhere")
    manifest = Manifest.create(tmp_path / "sweep", sweep_id="hf-test")
    manifest.plan([(0, ["x=1"], "hf-test-0")])
    with pytest.raises(ConfigurationError, match=r"hydra\.sweeper\.storage and hydra\.sweeper\.study_name"):
        resume_trials(optuna, study, manifest, settings=None, storage=storage)
    with pytest.raises(ConfigurationError, match=r"no study in hydra\.sweeper\.storage=.* recorded it"):
        find_study_name(optuna, storage, "hf-test", storage)
