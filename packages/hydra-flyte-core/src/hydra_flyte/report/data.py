"""What a sweep report shows, as plain JSON data: the jobs, their swept parameters, objective and running best.

Built from the manifest and the sweep directory's `multirun.yaml` (the sweeper and its direction)
alone, without plotting: the report embeds this data as it is, so a test or a script can read the
very numbers the plots show.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hydra_flyte.state.manifest import JobRecord, Manifest
from hydra_flyte.state.phases import SUCCEEDED

#: Where hydra_flyte's sweepers and Hydra's save the sweep's config (the sweeper, its direction).
MULTIRUN_YAML = "multirun.yaml"


def sweeper_config(sweep_dir: Path) -> dict[str, Any]:
    """`hydra.sweeper` and the sweep's task overrides ({} when neither can be read).

    From `multirun.yaml` (Hydra's basic sweeper and optuna_async write it); else, as
    hydra-optuna-sweeper writes none, the sweeper node of a job's `.hydra/hydra.yaml` (whose task
    overrides are that job's, not the sweep's: left out).
    """
    from omegaconf import OmegaConf

    path = sweep_dir / MULTIRUN_YAML
    try:
        if path.is_file():
            hydra = OmegaConf.load(path).get("hydra") or {}
            overrides = OmegaConf.to_container(hydra.get("overrides") or {}, resolve=False) or {}
            task = list(overrides.get("task") or [])  # type: ignore[union-attr]
        else:
            job = next(iter(sorted(sweep_dir.glob("*/.hydra/hydra.yaml"))), None)
            if job is None:
                return {}
            hydra, task = OmegaConf.load(job).get("hydra") or {}, []
        sweeper = OmegaConf.to_container(hydra.get("sweeper") or {}, resolve=False)
    except Exception:  # an unreadable file leaves the report without sweeper details
        return {}
    return {"sweeper": sweeper or {}, "task_overrides": task}


def is_optuna(sweeper: dict[str, Any]) -> bool:
    """hydra/sweeper=optuna (hydra-optuna-sweeper) or hydra/sweeper=optuna_async (ours)."""
    return "optuna" in str(sweeper.get("_target_", "")).lower()


def direction_of(sweeper: dict[str, Any]) -> tuple[str, str]:
    """The direction the best job is judged by, and where it came from."""
    direction = sweeper.get("direction")
    if isinstance(direction, (list, tuple)):
        direction = direction[0] if direction else None
    name = str(getattr(direction, "name", direction) or "").lower()
    if name in ("minimize", "maximize"):
        return name, "the sweeper's direction"
    return "minimize", "no direction given: lower is better"


def parse_override(text: str) -> tuple[str, str] | None:
    """`key=value` (a leading `+`, `++` or `~` dropped) as (key, value); None for anything else."""
    key, sep, value = text.partition("=")
    if not sep:
        return None
    return key.lstrip("+~"), value


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def swept_parameters(records: list[JobRecord]) -> list[dict[str, Any]]:
    """The override keys whose value differs between jobs, in first-seen order: numeric or choice."""
    values: dict[str, list[str]] = {}
    for record in records:
        for text in record.overrides:
            parsed = parse_override(text)
            if parsed is not None:
                values.setdefault(parsed[0], []).append(parsed[1])
    params = []
    for key, seen in values.items():
        if len(set(seen)) < 2:
            continue
        numeric = all(_number(v) is not None for v in seen)
        params.append({"name": key, "kind": "numeric" if numeric else "choice"})
    return params


def objective(record: JobRecord) -> float | None:
    """The job's value as the objective: a finite number (bool excluded); None otherwise."""
    value = record.value
    if record.phase != SUCCEEDED or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def report_data(manifest: Manifest, sweep_dir: Path) -> dict[str, Any]:
    """Everything the report shows, in JSON types (values at full precision, as in the manifest)."""
    config = sweeper_config(sweep_dir)
    sweeper = config.get("sweeper", {})
    direction, direction_source = direction_of(sweeper)
    sign = 1.0 if direction == "minimize" else -1.0
    records = manifest.records()
    params = swept_parameters(records)
    names = {p["name"]: p["kind"] for p in params}
    jobs, best, best_job = [], None, None
    for record in records:
        chosen: dict[str, Any] = {}
        for text in record.overrides:
            parsed = parse_override(text)
            if parsed is not None and parsed[0] in names:
                key, raw = parsed
                chosen[key] = _number(raw) if names[key] == "numeric" else raw
        score = objective(record)
        if score is not None and (best is None or sign * score < sign * best):
            best, best_job = score, record.job
        jobs.append(
            {
                "job": record.job,
                "overrides": list(record.overrides),
                "params": chosen,
                "phase": record.phase,
                "value": record.value,
                "objective": score,
                "best_so_far": best,
                "duration_seconds": record.duration_seconds,
                "url": record.url,
                "error": record.error,
            }
        )
    return {
        "format": 1,
        "sweep_id": manifest.sweep_id,
        "task": manifest.task,
        "mode": manifest.mode,
        "created_at": manifest.created_at,
        "manifest": str(manifest.path),
        "sweeper": str(sweeper.get("_target_", "")) or None,
        "direction": direction,
        "direction_source": direction_source,
        "params": params,
        "jobs": jobs,
        "best_job": best_job,
        "optuna": None,  # filled by the Optuna part of the report for Optuna sweeps
    }
