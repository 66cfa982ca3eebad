"""Installed beside flyteplugins-hydra: the first use of `hydra/launcher=flyte` says so, with the fix.

The other package is stood in for by a fake distribution: a `flyteplugins_hydra-2.12.1.dist-info`
directory (METADATA only) on sys.path, which is what importlib.metadata finds for an installed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra import initialize
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from launcher_tasks import score

from hydra_flyte.compat import coexistence as _coexistence
from hydra_flyte.engine.job_scope import run as hydra_flyte_run


def fake_flyteplugins_hydra(root: Path) -> Path:
    """A fake installed flyteplugins-hydra (metadata only) under `root`."""
    info = root / "flyteplugins_hydra-2.12.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flyteplugins-hydra\nVersion: 2.12.1\n")
    return root


@pytest.fixture
def hydra_app(
    hydra_restore_singletons: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    ConfigStore.instance().store(name="app", node={"x": 1.5})
    with initialize(version_base="1.3", config_path=None, job_name="app"):
        yield GlobalHydra.instance().hydra


@pytest.fixture(autouse=True)
def _checked_afresh() -> Iterator[None]:
    _coexistence.forget()
    yield
    _coexistence.forget()


def _sweep(hydra: Any) -> None:
    hydra.multirun(
        config_name="app",
        task_function=lambda cfg: hydra_flyte_run(score, cfg=cfg, offset=1.0),
        overrides=["hydra/launcher=flyte", "hydra.launcher.mode=local", "x=1,2"],
    )


def test_first_use_says_both_are_installed_and_how_to_fix_it(
    hydra_app, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.syspath_prepend(str(fake_flyteplugins_hydra(tmp_path / "site")))
    _sweep(hydra_app)
    _sweep(hydra_app)
    err = capsys.readouterr().err
    assert err.count("flyteplugins-hydra 2.12.1 is installed too") == 1, err
    assert "pip uninstall flyteplugins-hydra" in err


def test_nothing_is_said_without_it(hydra_app, capsys) -> None:
    _sweep(hydra_app)
    assert "flyteplugins-hydra" not in capsys.readouterr().err
