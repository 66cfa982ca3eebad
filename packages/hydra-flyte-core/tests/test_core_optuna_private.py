"""Optuna's FrozenTrial._trial_id, the one private Optuna symbol core uses (fence test)."""

from __future__ import annotations

from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from hydra_flyte.compat import fallback as _fallback  # noqa: E402
from hydra_flyte.compat import optuna_private as op  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh():
    op.TRIAL_ID.forget()
    yield
    op.TRIAL_ID.forget()


def _study_with_open_trials(tmp_path: Path) -> tuple[object, str, list[object]]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=storage, study_name="other").ask()  # trial ids differ from numbers
    study = optuna.create_study(storage=storage, study_name="s")
    asked = [study.ask() for _ in range(3)]
    for trial, value in zip(asked, range(3), strict=True):
        trial.set_user_attr("x", value)
    return study, storage, study.get_trials(deepcopy=False)


def test_the_trial_id_is_where_the_fast_path_reads_it(tmp_path: Path, capsys) -> None:
    study, storage, frozen = _study_with_open_trials(tmp_path)
    assert op.TRIAL_ID.get() is not None, (
        f"optuna {_fallback.installed_version('optuna')}: FrozenTrial._trial_id moved ({op.TRIAL_ID.problem}): "
        "update hydra_flyte/_optuna_private.py"
    )
    trials = op.reopen_trials(optuna, study, frozen, storage=storage)
    assert [t.number for t in trials] == [0, 1, 2]
    assert [t.user_attrs["x"] for t in trials] == [0, 1, 2]
    assert "hydra-flyte: warning" not in capsys.readouterr().err


def test_without_it_the_storage_gives_the_same_trials(tmp_path: Path, monkeypatch, capsys) -> None:
    study, storage, frozen = _study_with_open_trials(tmp_path)
    fast = [t._trial_id for t in op.reopen_trials(optuna, study, frozen, storage=storage)]

    def gone():
        raise AttributeError("FrozenTrial._trial_id is not there in this release")

    monkeypatch.setattr(op.TRIAL_ID, "_find", gone)
    op.TRIAL_ID.forget()
    public = op.reopen_trials(optuna, study, frozen, storage=storage)
    assert [t._trial_id for t in public] == fast
    assert [t.user_attrs["x"] for t in public] == [0, 1, 2]
    public[0].set_user_attr("y", 1)  # usable: writes go to the study
    assert study.get_trials(deepcopy=False)[0].user_attrs["y"] == 1
    assert capsys.readouterr().err.count("optuna.trial.FrozenTrial._trial_id is missing") == 1
