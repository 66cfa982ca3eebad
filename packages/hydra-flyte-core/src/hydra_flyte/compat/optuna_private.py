"""Every use of Optuna's private symbols in hydra_flyte: a study's open trial reopened on resume.

A resumed `hydra/sweeper=optuna_async` sweep reattaches to the trials its earlier process asked
and left RUNNING. Optuna's public `optuna.trial.Trial(study, trial_id)` reopens one, but the id it
takes is public only through the storage: the `FrozenTrial`s of `study.get_trials()` carry it as
`_trial_id` (Optuna 2.10 to 5.x). That attribute is the fast path. Without it, the id is asked of
the storage with its public `BaseStorage` calls (`get_study_id_from_name`, then
`get_trial_id_from_study_id_trial_number` for the trial's `number`): one query each, same id.
tests/test_core_optuna_private.py fails loudly if the attribute moves.
"""

from __future__ import annotations

from typing import Any

from hydra_flyte.compat.fallback import Private, expect

TRIAL_ID_ATTRIBUTE = "_trial_id"


def _find_trial_id() -> Any:
    from optuna.trial import FrozenTrial

    # FrozenTrial.__init__ stores the storage's id as self._trial_id (its only record of it).
    expect(
        TRIAL_ID_ATTRIBUTE in FrozenTrial.__init__.__code__.co_names, "FrozenTrial no longer sets _trial_id"
    )
    return lambda frozen: frozen._trial_id


TRIAL_ID = Private(
    "optuna.trial.FrozenTrial._trial_id",
    "optuna",
    _find_trial_id,
    fallback="the trial ids are asked of the study's storage",
)


def reopen_trials(optuna: Any, study: Any, frozen_trials: list[Any], *, storage: Any) -> list[Any]:
    """`optuna.trial.Trial`s for `frozen_trials` (open trials of `study`, whose storage is `storage`)."""
    trial_id = TRIAL_ID.get()
    if trial_id is not None:
        return [optuna.trial.Trial(study, trial_id(frozen)) for frozen in frozen_trials]
    if not frozen_trials:
        return []
    store = optuna.storages.get_storage(storage)
    study_id = store.get_study_id_from_name(study.study_name)
    return [
        optuna.trial.Trial(study, store.get_trial_id_from_study_id_trial_number(study_id, frozen.number))
        for frozen in frozen_trials
    ]
