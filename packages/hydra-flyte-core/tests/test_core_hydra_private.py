"""Loud failures if the Hydra internals hydra_flyte relies on (see _hydra_private.py) move."""

from __future__ import annotations

from typing import Any

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf

from hydra_flyte.compat.hydra_private import hydra_app
from hydra_flyte.engine.launcher import FlyteLauncher
from hydra_flyte.engine.registration import ensure_launcher_registered


def test_hydra_refuses_launchers_outside_hydra_plugins() -> None:
    """Why the launcher class lives under hydra_plugins: registering it elsewhere is not enough."""
    Plugins.instance().register(FlyteLauncher)
    config = OmegaConf.create({"_target_": "hydra_flyte.engine.launcher.FlyteLauncher"})
    with pytest.raises(RuntimeError, match="not the hydra_plugins package"):
        Plugins.instance()._instantiate(config)


def test_core_registers_its_launcher_and_config() -> None:
    from hydra.core.config_store import ConfigStore

    from hydra_plugins._hydra_flyte_core import FlyteLauncher as PluginFlyteLauncher

    ensure_launcher_registered()
    assert PluginFlyteLauncher in Plugins.instance().discover(Launcher)
    node = ConfigStore.instance().load("hydra/launcher/flyte.yaml").node
    launcher_node = (
        node.launcher if "launcher" in node else node
    )  # stored at package `hydra` or `hydra.launcher`
    assert launcher_node._target_ == "hydra_plugins._hydra_flyte_core.FlyteLauncher"
    launcher = Plugins.instance()._instantiate(launcher_node)
    assert isinstance(launcher, FlyteLauncher)


def test_hydra_app_exposes_run_and_multirun_and_restores_state(conf_dir: str) -> None:
    assert not GlobalHydra.instance().is_initialized()
    with hydra_app(conf_dir, job_name="probe") as hydra:
        assert callable(hydra.run) and callable(hydra.multirun)
        assert GlobalHydra.instance().is_initialized()
    assert not GlobalHydra.instance().is_initialized()


def test_batch_validation_is_recognised_and_drops_what_it_composes() -> None:
    from types import SimpleNamespace

    from hydra.plugins.sweeper import Sweeper

    from hydra_flyte.compat.hydra_private import called_from_batch_validation

    class Loader:
        def __init__(self) -> None:
            self.calls: list[tuple[list[str], bool]] = []

        def load_sweep_config(self, master_config: Any, sweep_overrides: list[str]) -> Any:
            self.calls.append((sweep_overrides, called_from_batch_validation()))
            return object()

    loader = Loader()
    sweeper = SimpleNamespace(hydra_context=SimpleNamespace(config_loader=loader), config=object())
    assert Sweeper.validate_batch_is_legal(sweeper, [["a=1"], ["a=2"]]) is None  # type: ignore[arg-type]
    assert loader.calls == [(["a=1"], True), (["a=2"], True)]
    loader.load_sweep_config(None, ["a=3"])
    assert loader.calls[-1] == (["a=3"], False)


def test_job_return_keeps_its_value_in_return_value_attribute() -> None:
    """Fails loudly when Hydra renames JobReturn._return_value (read by _hydra_private.job_value)."""
    from hydra_flyte.compat import hydra_private as _hydra_private

    _hydra_private.RETURN_VALUE.forget()
    assert _hydra_private._job_return_value() is True
    assert _hydra_private.RETURN_VALUE.available()


def test_job_value_without_the_private_attribute_reads_the_public_property(monkeypatch) -> None:
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_flyte.compat import hydra_private as _hydra_private

    def gone() -> None:
        raise AttributeError("JobReturn._return_value is not there in this release")

    ok, failed = JobReturn(), JobReturn()
    ok.return_value, ok.status = 3, JobStatus.COMPLETED
    error = ValueError("boom")
    failed.return_value, failed.status = error, JobStatus.FAILED
    monkeypatch.setattr(_hydra_private.RETURN_VALUE, "_find", gone)
    _hydra_private.RETURN_VALUE.forget()
    try:
        assert _hydra_private.job_value(ok) == 3
        assert _hydra_private.job_value(failed) is error
        assert not _hydra_private.RETURN_VALUE.available()
    finally:
        monkeypatch.undo()
        _hydra_private.RETURN_VALUE.forget()


def test_hydras_config_loader_class_is_where_the_hint_wraps_it() -> None:
    """Fails loudly when Hydra moves ConfigLoaderImpl or reshapes its load_configuration (compose.hints wraps it)."""
    from hydra.core.config_loader import ConfigLoader

    from hydra_flyte.compat import hydra_private as _hydra_private

    _hydra_private.CONFIG_LOADER.forget()
    loader_class = _hydra_private.config_loader_class()
    assert issubclass(loader_class, ConfigLoader)
    with hydra_app(None, job_name="probe"):
        assert isinstance(GlobalHydra.instance().config_loader(), loader_class)


def test_a_hydra_without_the_loader_class_gets_no_hint_and_one_quiet_answer(monkeypatch, capsys) -> None:
    from hydra_flyte.compat import hydra_private as _hydra_private
    from hydra_flyte.compose import hints

    def gone() -> None:
        raise ImportError("no ConfigLoaderImpl in this release")

    monkeypatch.setattr(_hydra_private.CONFIG_LOADER, "_find", gone)
    monkeypatch.setattr(hints, "_installed", [])
    _hydra_private.CONFIG_LOADER.forget()
    try:
        assert hints.hint_misspelled_overrides() is False
        assert capsys.readouterr().err == ""  # quiet unless asked (an app on another launcher)
        assert hints.hint_misspelled_overrides(warn=True) is False
        err = capsys.readouterr().err
        assert (
            "ConfigLoaderImpl.load_configuration is missing" in err and "(the same error, less help)" in err
        )
    finally:
        monkeypatch.undo()
        _hydra_private.CONFIG_LOADER.forget()


def test_the_wrapped_loader_hints_for_apps_on_the_flyte_launcher_only(conf_dir: str, monkeypatch) -> None:
    from hydra import compose
    from hydra.errors import ConfigCompositionException

    from hydra_flyte.compat.hydra_private import config_loader_class
    from hydra_flyte.compose import hints

    loader_class = config_loader_class()
    monkeypatch.setattr(loader_class, "load_configuration", loader_class.load_configuration)  # undone after
    monkeypatch.setattr(hints, "_installed", [])
    assert hints.hint_misspelled_overrides() is True
    ensure_launcher_registered()
    with hydra_app(conf_dir, job_name="probe"):
        with pytest.raises(ConfigCompositionException) as info:
            compose("training", overrides=["hydra/launcher=flyte", "optimizer.lrr=0.1"])
        assert str(info.value).endswith("\nDid you mean 'optimizer.lr'?")
        with pytest.raises(ConfigCompositionException) as info:
            compose("training", overrides=["optimizer.lrr=0.1"])  # Hydra's basic launcher: not ours to change
        assert "Did you mean" not in str(info.value)
