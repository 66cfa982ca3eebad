"""Remote sweeps when a release moved a private symbol we use: same results, one warning, on the public path.

Every private Flyte, Hydra and OmegaConf symbol hydra-flyte uses is a fast path (see
hydra_flyte/compat/fallback.py). Here each is made missing in turn and a remote sweep runs against the
loopback control plane. These libraries call most of those symbols themselves (flyte's runner
calls `build_code_bundle`, Hydra's loader `_apply_overrides_to_config`, ...), so deleting one
would break the library, not test us: the symbol is removed from hydra-flyte's view instead, by
making its lookup fail as a release without it would (`_find` raises AttributeError naming it).
`Run.raise_for_status`, which flyte itself does not call, is really deleted.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane
from hydra_tasks import fails_for_sgd, objective

from hydra_flyte import RunFailedError, SweepFailedError, hydra_sweep
from hydra_flyte.compat import fallback as _fallback
from hydra_flyte.compat import flyte_private as _flyte_private
from hydra_flyte.compat import hydra_private as _hydra_private
from hydra_flyte.compat import omegaconf_private as _oc

CONF = str(Path(__file__).resolve().parent / "conf")
OVERRIDES = ["model=small,large", "optimizer.lr=0.25,0.5"]
EXPECTED = [0.5, 1.0, 2.5, 5.0]

PRIVATE = {
    "directory_check": _flyte_private.SYMBOLS["directory_check"],
    "task_spec": _flyte_private.SYMBOLS["task_spec"],
    "init_config": _flyte_private.INIT_CONFIG,
    "omegaconf_parse": _oc.PARSE,
    "apply_overrides": _hydra_private.APPLY_OVERRIDES,
    "overrides_dirname": _hydra_private.OVERRIDES_DIRNAME,
    "job_runner_hydra": _hydra_private.JOB_RUNNER_HYDRA_SYMBOLS,
    "job_runner_omegaconf": _oc.JOB_RUNNER_OMEGACONF_SYMBOLS,
    "return_value": _hydra_private.RETURN_VALUE,
}
# Used only once composition has failed (a misspelled override's hint), so no sweep touches it: its
# own test below, and test_core_hydra_private.py.
ON_ERRORS_ONLY = {"config_loader": _hydra_private.CONFIG_LOADER}


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    _fallback.forget_all()
    yield
    _fallback.forget_all()


def test_every_private_symbol_of_core_is_covered_here() -> None:
    core = {p for p in _fallback.registered() if p.symbol.startswith(("flyte.", "hydra.", "omegaconf."))}
    # flyte-hydra-cli's (flyte's CLI, Hydra's completion engine): tested in its own suite
    core = {p for p in core if "flyte.cli." not in p.symbol and "completion_plugin" not in p.symbol}
    assert core <= set(PRIVATE.values()) | set(ON_ERRORS_ONLY.values())


def _gone(private: _fallback.Private):
    def find():
        raise AttributeError(f"{private.symbol} is not there in this release")

    return find


@pytest.mark.smoke
def test_remote_sweep_on_the_fast_paths_has_no_warning(flyte_remote: ControlPlane, capsys) -> None:
    results = hydra_sweep(objective, config_path=CONF, config_name="training", overrides=OVERRIDES)
    assert [float(r) for r in results] == pytest.approx(EXPECTED)
    assert "hydra-flyte: warning" not in capsys.readouterr().err
    assert len(flyte_remote.requests.of("RunService/CreateRun")) == 4


@pytest.mark.parametrize("key", sorted(PRIVATE))
def test_remote_sweep_without_one_private_symbol_gives_the_same_results_and_one_warning(
    key: str, flyte_remote: ControlPlane, capsys, monkeypatch
) -> None:
    private = PRIVATE[key]
    monkeypatch.setattr(private, "_find", _gone(private))
    first = hydra_sweep(objective, config_path=CONF, config_name="training", overrides=OVERRIDES)
    second = hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1"])
    assert [float(r) for r in first] == pytest.approx(EXPECTED)
    assert [float(r) for r in second] == pytest.approx([2.0])
    # The job's recorded overrides are Hydra's, on either path.
    assert [tuple(r.overrides) for r in first] == [
        ("model=small", "optimizer.lr=0.25"), ("model=small", "optimizer.lr=0.5"),
        ("model=large", "optimizer.lr=0.25"), ("model=large", "optimizer.lr=0.5"),
    ]  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("hydra-flyte: warning:") == 1, err
    assert private.symbol in err and f"{private.distribution} {version(private.distribution)}" in err
    assert len(flyte_remote.requests.of("RunService/CreateRun")) == 5
    assert not _flyte_private._active and _flyte_private._depth == 0


@pytest.mark.smoke
def test_a_failed_run_reports_the_task_error_on_a_flyte_without_raise_for_status(
    flyte_remote: ControlPlane, monkeypatch
) -> None:
    from flyte.remote import Run

    monkeypatch.delattr(Run, "raise_for_status", raising=False)  # as in flyte 2.9 (no Run.raise_for_status)
    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(fails_for_sgd, config_path=CONF, config_name="training", overrides=["optimizer=adam,sgd"])
    (failure,) = [o for o in info.value.outcomes if not o.ok]
    assert isinstance(failure.error, RunFailedError)
    assert "loss exploded with lr=" in str(failure.error), str(failure.error)
    assert "raise_for_status" not in str(failure.error)


def test_without_hydras_config_loader_class_only_hydra_main_apps_lose_the_hint(
    flyte_remote: ControlPlane, capsys, monkeypatch
) -> None:
    from hydra_flyte import ConfigurationError
    from hydra_flyte.compose import hints

    private = ON_ERRORS_ONLY["config_loader"]
    monkeypatch.setattr(private, "_find", _gone(private))
    monkeypatch.setattr(hints, "_installed", [])
    assert hints.hint_misspelled_overrides(warn=True) is False  # what the launcher's plugin asks
    err = capsys.readouterr().err
    assert err.count("hydra-flyte: warning:") == 1 and private.symbol in err, err
    # The SDK (and so the CLI) adds the hint itself, and a sweep runs as ever.
    with pytest.raises(ConfigurationError, match="Did you mean 'optimizer.lr'"):
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=["optimizer.lrr=0.1"])
    results = hydra_sweep(objective, config_path=CONF, config_name="training", overrides=OVERRIDES)
    assert [float(r) for r in results] == pytest.approx(EXPECTED)
