"""The Optuna part of a sweep report: the study, its optimisation history and parameter importances.

The study is the sweeper's own when `hydra.sweeper.storage` and `study_name` name one that can be
loaded; otherwise it is rebuilt in memory from the manifest: one trial per job, with the search
space of `multirun.yaml` (the grammar both Optuna sweepers read) as its distributions. History
and importances are then Optuna's own (`optuna.visualization`, `optuna.importance`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from hydra_flyte.optuna.trials import JOB_ATTR, SWEEP_ATTR
from hydra_flyte.report.data import objective, parse_override
from hydra_flyte.state.manifest import JobRecord
from hydra_flyte.state.phases import SUCCEEDED, is_rerunnable_failure

log = logging.getLogger(__name__)


def _distribution(dimension: Any, optuna: Any) -> Any:
    """The Optuna distribution of a search-space dimension (the classes of Optuna 3+ or of 2.10)."""
    d = optuna.distributions
    if dimension.kind == "categorical":
        return d.CategoricalDistribution(list(dimension.choices))
    if hasattr(d, "FloatDistribution"):
        if dimension.kind == "int":
            return d.IntDistribution(int(dimension.low), int(dimension.high), log=dimension.log,
                                     step=int(dimension.step or 1))  # fmt: skip
        return d.FloatDistribution(float(dimension.low), float(dimension.high), log=dimension.log,
                                   step=dimension.step)  # fmt: skip
    if dimension.kind == "int":
        if dimension.log:
            return d.IntLogUniformDistribution(int(dimension.low), int(dimension.high))
        return d.IntUniformDistribution(
            int(dimension.low), int(dimension.high), step=int(dimension.step or 1)
        )
    if dimension.log:
        return d.LogUniformDistribution(float(dimension.low), float(dimension.high))
    if dimension.step is not None:
        return d.DiscreteUniformDistribution(
            float(dimension.low), float(dimension.high), float(dimension.step)
        )
    return d.UniformDistribution(float(dimension.low), float(dimension.high))


def _param_value(dimension: Any, text: str) -> Any:
    """A job's override value as the dimension's type (a choice: the choice whose text it is)."""
    if dimension.kind == "categorical":
        for choice in dimension.choices:
            if str(choice) == text:
                return choice
        raise ValueError(f"{text!r} is not one of {list(dimension.choices)}")
    return int(text) if dimension.kind == "int" else float(text)


def _dimensions(records: list[JobRecord], config: dict[str, Any], swept: list[dict[str, Any]]) -> list[Any]:
    """The sweep's search space; a swept parameter it does not name gets the range or choices the jobs took."""
    from hydra_flyte.optuna.space import Dimension, build_search_space

    sweeper = config.get("sweeper", {})
    space = build_search_space(
        sweeper.get("params"), config.get("task_overrides", []), sweeper.get("search_space")
    )
    dimensions = {d.name: d for d in space.dimensions}
    for param in swept:
        name = param["name"]
        if name in dimensions:
            continue
        seen = [
            p[1] for p in map(parse_override, (o for r in records for o in r.overrides)) if p and p[0] == name
        ]
        if param["kind"] == "numeric":
            numbers = [float(v) for v in seen]
            dimensions[name] = Dimension(name, "float", low=min(numbers), high=max(numbers))
        else:
            dimensions[name] = Dimension(name, "categorical", choices=tuple(dict.fromkeys(seen)))
    return list(dimensions.values())


def _rebuilt_study(
    records: list[JobRecord], config: dict[str, Any], swept: list[dict[str, Any]], direction: str, optuna: Any
) -> Any:
    """An in-memory study with one trial per job that ran (complete with its value, or failed)."""
    dims = _dimensions(records, config, swept)
    distributions = {dim.name: (dim, _distribution(dim, optuna)) for dim in dims}
    study = optuna.create_study(direction=direction)
    for record in records:
        if not _ran(record):
            continue
        given = dict(p for p in map(parse_override, record.overrides) if p is not None)
        try:
            params = {name: _param_value(dim, given[name]) for name, (dim, _) in distributions.items()}
        except (KeyError, ValueError) as exc:
            log.warning(f"job {record.job} left out of the Optuna study: {exc}")
            continue
        score = objective(record)
        state = optuna.trial.TrialState.COMPLETE if score is not None else optuna.trial.TrialState.FAIL
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={name: dist for name, (_, dist) in distributions.items()},
                value=score,
                state=state,
                user_attrs={"job": record.job},
            )
        )
    return study


def _ran(record: JobRecord) -> bool:
    return record.phase == SUCCEEDED or is_rerunnable_failure(record.phase)


def _stored_study(
    sweeper: dict[str, Any], records: list[JobRecord], sweep_id: str, optuna: Any
) -> tuple[Any, str]:
    """The sweeper's study from its storage and a note, or None when it is not this sweep's alone.

    A study that several sweeps added to is cut down to this sweep's trials (an in-memory copy)
    when its trials carry sweep ids (optuna_async marks them in remote sweeps); an unmarked study
    with more trials than this sweep ran jobs is not used (the study is rebuilt from the manifest).
    """
    storage, name = sweeper.get("storage"), sweeper.get("study_name")
    if not storage or not name:
        return None, ""
    try:
        study = optuna.load_study(study_name=str(name), storage=str(storage))
    except Exception as exc:  # gone, moved, another machine's: rebuild from the manifest instead
        log.info(f"Optuna study {name!r} not loaded from {storage}: {exc}; rebuilt from the manifest")
        return None, f"study {name!r} could not be loaded from its storage"
    mine = [t for t in study.trials if t.user_attrs.get(SWEEP_ATTR) == sweep_id]
    if not mine:
        ran = sum(1 for r in records if _ran(r))
        finished = [t for t in study.trials if t.state.is_finished()]
        if len(finished) != ran:
            return (
                None,
                f"the stored study {name!r} holds {len(finished)} finished trials, this sweep ran {ran} jobs",
            )
        return study, "storage"
    if len(mine) == len(study.trials) or len(study.directions) != 1:
        return study, "storage"
    own = optuna.create_study(study_name=study.study_name, direction=study.direction)
    for trial in mine:
        own.add_trial(trial)
    return own, f"storage: this sweep's {len(mine)} of the study's {len(study.trials)} trials"


def _importances(study: Any, optuna: Any) -> tuple[dict[str, float] | None, Any, str]:
    """Optuna's parameter importances: its default evaluator (fANOVA), else mean decrease in impurity."""
    evaluators = [None, optuna.importance.MeanDecreaseImpurityImportanceEvaluator()]
    reasons = []
    for evaluator in evaluators:
        try:
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except Exception as exc:  # too few trials, or an evaluator that fails on this scikit-learn
            reasons.append(f"{type(evaluator).__name__ if evaluator else 'default evaluator'}: {exc}")
            continue
        label = type(evaluator).__name__ if evaluator is not None else "default (fANOVA)"
        return {k: float(v) for k, v in found.items()}, evaluator, label
    return None, None, "; ".join(reasons)


def optuna_section(
    records: list[JobRecord],
    config: dict[str, Any],
    swept: list[dict[str, Any]],
    direction: str,
    sweep_id: str,
) -> tuple[dict[str, Any], list]:
    """The report's Optuna data and Optuna's own figures (history, importances) for an Optuna sweep."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_trial / add_trial are "experimental" in Optuna 2.x
        study, why = _stored_study(config.get("sweeper", {}), records, sweep_id, optuna)
        source = why if study is not None else "rebuilt from the manifest" + (f" ({why})" if why else "")
        if study is None:
            study = _rebuilt_study(records, config, swept, direction, optuna)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        importances, evaluator, evaluator_label = (
            _importances(study, optuna) if complete else (None, None, "")
        )
        figures = []
        if complete:
            figures.append(
                ("Optimisation history (Optuna)", optuna.visualization.plot_optimization_history(study))
            )
        if importances:
            figure = optuna.visualization.plot_param_importances(study, evaluator=evaluator)
            figures.append((f"Parameter importances (Optuna, {evaluator_label})", figure))
    best = min if direction == "minimize" else max
    data = {
        "optuna_version": optuna.__version__,
        "study_source": source,
        "study_name": study.study_name,
        "direction": direction,
        "trials": [
            {
                "number": t.number,
                "job": t.user_attrs.get("job", t.user_attrs.get(JOB_ATTR)),
                "state": t.state.name,
                "value": t.value if t.value is None or math.isfinite(t.value) else None,
                "params": dict(t.params),
            }
            for t in study.trials
        ],
        "best_value": best(t.value for t in complete) if complete else None,
        "importances": importances,
        "importance_evaluator": evaluator_label or None,
    }
    return data, figures
