"""`hydra/launcher=flyte` in process: the config option, single runs (the run callback) and sweeps."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flyte
import pytest
from hydra import initialize
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobStatus
from launcher_tasks import explode, score
from omegaconf import DictConfig

from hydra_flyte import NoEndpointError, RunFailedError, RunResult
from hydra_flyte.engine.job_scope import current_job
from hydra_flyte.engine.job_scope import run as hydra_flyte_run


@pytest.fixture
def hydra_app(
    hydra_restore_singletons: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Hydra initialised with a ConfigStore-only config `app` ({x: 1.5}), outputs under tmp_path."""
    monkeypatch.chdir(tmp_path)
    ConfigStore.instance().store(name="app", node={"x": 1.5})
    with initialize(version_base="1.3", config_path=None, job_name="app"):
        yield GlobalHydra.instance().hydra


def via_flyte_run(cfg: DictConfig) -> Any:
    """The guide's pattern: the script calls flyte.run (the module attribute)."""
    return flyte.run(score, cfg=cfg, offset=1.0)


def via_helper(cfg: DictConfig) -> Any:
    """The explicit helper."""
    return hydra_flyte_run(score, cfg=cfg, offset=1.0)


LOCAL = ["hydra/launcher=flyte", "hydra.launcher.mode=local"]


def test_config_option_defaults() -> None:
    import hydra_plugins.hydra_flyte_plugin  # noqa: F401  (stores the option; discovery did already)

    node = ConfigStore.instance().load("hydra/launcher/flyte.yaml")
    assert node.provider == "hydra-flyte-launcher"
    assert node.package == "hydra"
    launcher = node.node.launcher
    assert launcher._target_ == "hydra_plugins._hydra_flyte_core.FlyteLauncher"
    assert (launcher.mode, launcher.wait, launcher.wait_max_workers) == ("remote", True, 32)
    assert node.node.callbacks.hydra_flyte_run._target_ == "hydra_flyte.engine.run_callback.FlyteRunCallback"


def test_plugin_import_is_light() -> None:
    """Hydra imports the plugin on every app start: it must not pull in flyte (or anything heavy)."""
    code = (
        "import sys\n"
        "from hydra.core.plugins import Plugins\n"
        "Plugins.instance()\n"
        "assert 'hydra_plugins.hydra_flyte_plugin' in sys.modules\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('flyte', 'grpc', 'numpy', 'pydantic'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("task_function", [via_flyte_run, via_helper])
def test_single_local_run_returns_run_result(hydra_app: Any, task_function: Any) -> None:
    ret = hydra_app.run(config_name="app", task_function=task_function, overrides=LOCAL)
    assert ret.status is JobStatus.COMPLETED
    assert isinstance(ret.return_value, RunResult)
    assert float(ret.return_value) == 4.0
    assert ret.return_value.url is None


def test_single_run_restores_flyte_run(hydra_app: Any) -> None:
    original = flyte.run
    seen = []

    def task_function(cfg: DictConfig) -> Any:
        seen.append((flyte.run is original, current_job()))
        return flyte.run(score, cfg=cfg)

    hydra_app.run(config_name="app", task_function=task_function, overrides=LOCAL)
    ((routed, job),) = seen
    assert not routed and job is not None and job.settings.mode == "local"
    assert flyte.run is original and current_job() is None


def test_single_run_without_flyte_keeps_the_value(hydra_app: Any) -> None:
    ret = hydra_app.run(config_name="app", task_function=lambda cfg: cfg.x, overrides=LOCAL)
    assert ret.return_value == 1.5


def test_single_run_leaves_runs_it_did_not_start_alone(hydra_app: Any) -> None:
    """A run started around the routing (as hydra_run's own task function does) is its starter's to finish."""

    def task_function(cfg: DictConfig) -> Any:
        return flyte.with_runcontext(mode="local").run(score, cfg=cfg)

    ret = hydra_app.run(config_name="app", task_function=task_function, overrides=LOCAL)
    assert not isinstance(ret.return_value, RunResult)
    assert ret.return_value.outputs()[0] == 3.0


def test_single_remote_run_without_endpoint_fails(hydra_app: Any, no_flyte_endpoint: Path) -> None:
    with pytest.raises(NoEndpointError, match="no Flyte endpoint configured: "):
        hydra_app.run(config_name="app", task_function=via_flyte_run, overrides=["hydra/launcher=flyte"])


def test_single_run_whose_task_fails(hydra_app: Any) -> None:
    with pytest.raises(RunFailedError, match="bad x: 1.5"):
        hydra_app.run(
            config_name="app", task_function=lambda cfg: flyte.run(explode, cfg=cfg), overrides=LOCAL
        )


def test_single_run_with_bad_mode_fails_instead_of_running(hydra_app: Any) -> None:
    from hydra_flyte import ConfigurationError

    with pytest.raises(ConfigurationError, match="mode must be 'local' or 'remote', got 'nearby'"):
        hydra_app.run(
            config_name="app",
            task_function=via_flyte_run,
            overrides=["hydra/launcher=flyte", "hydra.launcher.mode=nearby"],
        )


def test_without_the_flyte_launcher_nothing_is_routed(hydra_app: Any) -> None:
    ret = hydra_app.run(config_name="app", task_function=lambda cfg: (flyte.run, current_job()), overrides=[])
    assert ret.return_value == (flyte.run, None)


@pytest.mark.parametrize("task_function", [via_flyte_run, via_helper])
def test_local_sweep_returns_run_results(hydra_app: Any, task_function: Any) -> None:
    returns = hydra_app.multirun(
        config_name="app", task_function=task_function, overrides=[*LOCAL, "x=1,2,3"]
    )
    (batch,) = returns
    assert [r.status for r in batch] == [JobStatus.COMPLETED] * 3
    assert [float(r.return_value) for r in batch] == [3.0, 5.0, 7.0]
    assert [r.overrides for r in batch] == [["x=1"], ["x=2"], ["x=3"]]


def test_local_sweep_with_a_failing_job(hydra_app: Any) -> None:
    def task_function(cfg: DictConfig) -> Any:
        return flyte.run(explode if cfg.x == 2 else score, cfg=cfg)

    with pytest.raises(RunFailedError, match="bad x: 2"):
        hydra_app.multirun(config_name="app", task_function=task_function, overrides=[*LOCAL, "x=1,2"])


@pytest.mark.parametrize("multirun", [False, True])
def test_unknown_launcher_field_lists_the_fields_and_is_compact(hydra_app: Any, multirun: bool) -> None:
    from hydra.errors import CompactHydraException

    from hydra_flyte import ConfigurationError

    launch = hydra_app.multirun if multirun else hydra_app.run
    with pytest.raises(
        ConfigurationError, match="unknown launcher field hydra.launcher.wiat. Did you mean 'wait'"
    ) as info:
        launch(config_name="app", task_function=via_flyte_run, overrides=[*LOCAL, "hydra.launcher.wiat=1"])
    assert isinstance(info.value, CompactHydraException)  # Hydra prints it without a traceback
    assert "accepts: mode, wait, wait_max_workers" in str(info.value)


def test_a_launch_leaves_the_older_heap_out_of_gc_passes_and_restores_it(hydra_app: Any) -> None:
    import gc

    before = gc.get_freeze_count()
    returns = hydra_app.multirun(
        config_name="app", task_function=lambda cfg: gc.get_freeze_count(), overrides=[*LOCAL, "x=1,2"]
    )
    (batch,) = returns
    assert all(r.return_value > before for r in batch), "objects older than the launch were frozen"
    assert gc.get_freeze_count() == before, "and unfrozen after it"


def test_a_launch_leaves_a_heap_frozen_by_someone_else_alone(hydra_app: Any) -> None:
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        returns = hydra_app.multirun(
            config_name="app", task_function=lambda cfg: gc.get_freeze_count(), overrides=[*LOCAL, "x=1"]
        )
        # Frozen objects that are freed leave the count; a freeze of ours would add the newer ones.
        assert 0 < returns[0][0].return_value <= frozen
        assert 0 < gc.get_freeze_count() <= frozen, "not unfrozen by the launch"
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("multirun", [False, True])
def test_a_task_input_of_the_wrong_type_is_named_and_compact(hydra_app: Any, multirun: bool) -> None:
    from hydra.errors import CompactHydraException

    from hydra_flyte import ConfigurationError

    def wrong_type(cfg: DictConfig) -> Any:
        return flyte.run(score, cfg=cfg, offset="abc")

    launch = hydra_app.multirun if multirun else hydra_app.run
    overrides = [*LOCAL, *(["x=1,2"] if multirun else [])]
    with pytest.raises(ConfigurationError, match="input 'offset' needs float, got 'abc'") as info:
        launch(config_name="app", task_function=wrong_type, overrides=overrides)
    assert isinstance(info.value, CompactHydraException)
