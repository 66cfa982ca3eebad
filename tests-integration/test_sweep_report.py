"""The sweep report of the walkthrough example, in local mode (real training): every job's data point, offline.

The 6-job grid sweep (model x optimizer.lr) and an Optuna sweep through each Optuna sweeper: the
report's embedded data is checked against the manifest record by record, Optuna's own trials and
importances are there, and no tag of the page loads anything from a network.
"""

from __future__ import annotations

import math
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hydra_flyte import hydra_sweep, load_manifest, sweep_report
from hydra_flyte.report.html import read_report_data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONF = str(EXAMPLES / "conf")
sys.path.insert(0, str(EXAMPLES))

from train import pipeline  # noqa: E402


class _Resources(HTMLParser):
    """Every URL a tag of the page would fetch (src, href of link tags, data of objects)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, value in attrs:
            if value and (name in ("src", "data", "srcset") or (name == "href" and tag in ("link", "base"))):
                self.fetched.append((tag, value))


def assert_offline(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(text)
    assert parser.fetched == [], f"the report loads resources: {parser.fetched}"
    assert parser.scripts >= 3  # plotly.js inlined, the data block, the table's sorting
    assert "Plotly.newPlot" in text and "plotly.js v" in text[:2_000_000], "plotly.js is inlined"


def assert_every_job_in_report(sweep_dir: Path, *, jobs: int) -> dict:
    manifest = load_manifest(sweep_dir)
    path = sweep_report(sweep_dir)
    assert path == sweep_dir / "flyte-sweep-report.html"
    assert_offline(path)
    data = read_report_data(path)
    records = manifest.records()
    assert len(records) == len(data["jobs"]) == jobs
    for record, point in zip(records, data["jobs"], strict=True):
        assert point["job"] == record.job and point["overrides"] == record.overrides
        assert point["phase"] == record.phase == "SUCCEEDED"
        assert point["value"] == record.value and point["objective"] == record.value  # full precision
        assert point["duration_seconds"] == record.duration_seconds > 0
        assert point["url"] is None  # local runs have none
        for text in record.overrides:
            key, _, raw = text.partition("=")
            if key in point["params"]:
                expected = point["params"][key]
                assert (float(raw) == expected) if isinstance(expected, float) else (raw == expected)
    values = [r.value for r in records]
    best = min(values)
    assert data["best_job"] == records[values.index(best)].job
    running = [min(values[: i + 1]) for i in range(len(values))]
    assert [p["best_so_far"] for p in data["jobs"]] == running
    return data


def test_report_of_the_examples_six_job_grid_sweep(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "grid"
    results = hydra_sweep(
        pipeline,
        config_path=CONF,
        config_name="training",
        overrides=["model=resnet,vit", "optimizer.lr=0.001,0.01,0.1", f"hydra.sweep.dir={sweep_dir}"],
        dataset="digits",
        mode="local",
    )
    data = assert_every_job_in_report(sweep_dir, jobs=6)
    assert [p["objective"] for p in data["jobs"]] == [float(r) for r in results]
    assert data["params"] == [
        {"name": "model", "kind": "choice"},
        {"name": "optimizer.lr", "kind": "numeric"},
    ]
    assert [p["params"] for p in data["jobs"]][:2] == [
        {"model": "resnet", "optimizer.lr": 0.001},
        {"model": "resnet", "optimizer.lr": 0.01},
    ]
    assert data["direction"] == "minimize" and "no direction given" in data["direction_source"]
    assert data["optuna"] is None  # a grid sweep has no study
    text = (sweep_dir / "flyte-sweep-report.html").read_text()
    for heading in ("Objective against model", "Objective against optimizer.lr", "running best"):
        assert heading in text


@pytest.mark.parametrize("sweeper", ["optuna", "optuna_async"])
def test_report_of_an_optuna_sweep_has_optunas_history_and_importances(tmp_path: Path, sweeper: str) -> None:
    sweep_dir = tmp_path / sweeper
    hydra_sweep(
        pipeline,
        config_path=CONF,
        config_name="training",
        overrides=[
            f"hydra/sweeper={sweeper}",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.sampler.seed=3",
            "optimizer.lr=interval(1e-4,1e-1)",
            "model=choice(resnet,vit)",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        dataset="digits",
        mode="local",
    )
    data = assert_every_job_in_report(sweep_dir, jobs=6)
    assert data["direction_source"] == "the sweeper's direction"
    optuna = data["optuna"]
    assert optuna is not None and "note" not in optuna, optuna
    # One Optuna trial per job, with the job's own value and parameters.
    by_job = {t["job"]: t for t in optuna["trials"]}
    for point in data["jobs"]:
        trial = by_job[point["job"]]
        assert trial["state"] == "COMPLETE" and trial["value"] == point["objective"]
        assert trial["params"]["model"] == point["params"]["model"]
        assert trial["params"]["optimizer.lr"] == pytest.approx(point["params"]["optimizer.lr"])
    assert optuna["best_value"] == min(p["objective"] for p in data["jobs"])
    importances = optuna["importances"]
    assert set(importances) == {"model", "optimizer.lr"}
    assert math.isclose(sum(importances.values()), 1.0, rel_tol=1e-6)
    text = (sweep_dir / "flyte-sweep-report.html").read_text()
    assert "Optimisation history (Optuna)" in text and "Parameter importances (Optuna" in text


def test_report_of_an_optuna_async_sweep_reads_the_study_from_its_storage(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "stored"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = [
        "hydra/sweeper=optuna_async", "hydra.sweeper.n_jobs=1", "hydra.sweeper.sampler.seed=5",
        f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=lr-study", "optimizer.lr=interval(1e-3,1e-1)",
    ]  # fmt: skip
    for n_trials, where in ((2, tmp_path / "earlier"), (3, sweep_dir)):  # two sweeps add to one study
        hydra_sweep(
            pipeline, config_path=CONF, config_name="training", dataset="digits", mode="local",
            overrides=[*common, f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={where}"],
        )  # fmt: skip
    data = assert_every_job_in_report(sweep_dir, jobs=3)
    optuna = data["optuna"]
    # The study holds both sweeps' five trials, unmarked in local mode: this sweep's are rebuilt.
    assert optuna["study_source"].startswith("rebuilt from the manifest (the stored study 'lr-study' holds 5")
    assert [(t["job"], t["value"]) for t in optuna["trials"]] == [
        (p["job"], p["objective"]) for p in data["jobs"]
    ]
    # A study only this sweep added to is read from its storage: Optuna's own trials, values and params.
    only = tmp_path / "only"
    hydra_sweep(
        pipeline, config_path=CONF, config_name="training", dataset="digits", mode="local",
        overrides=[*common[:3], f"hydra.sweeper.storage=sqlite:///{tmp_path / 'only.db'}",
                   "hydra.sweeper.study_name=only", common[5], "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={only}"],
    )  # fmt: skip
    data = assert_every_job_in_report(only, jobs=2)
    optuna = data["optuna"]
    assert (optuna["study_source"], optuna["study_name"]) == ("storage", "only")
    assert [(t["value"], t["params"]["optimizer.lr"]) for t in optuna["trials"]] == [
        (p["objective"], pytest.approx(p["params"]["optimizer.lr"])) for p in data["jobs"]
    ]


def test_report_of_a_remote_sweep_links_every_run(tmp_path: Path, flyte_remote: object) -> None:
    from hydra_tasks import objective

    sweep_dir = tmp_path / "remote"
    results = hydra_sweep(
        objective,
        config_path=str(Path(__file__).resolve().parent / "conf"),
        config_name="training",
        overrides=["model=small,large", "optimizer.lr=0.25,0.5", f"hydra.sweep.dir={sweep_dir}"],
        report=True,
    )
    path = sweep_dir / "flyte-sweep-report.html"
    assert path.is_file()  # written by report=True when the sweep ended
    assert_offline(path)
    data = read_report_data(path)
    records = load_manifest(sweep_dir).records()
    assert [(p["job"], p["phase"], p["value"], p["url"]) for p in data["jobs"]] == [
        (r.job, "SUCCEEDED", r.value, r.url) for r in records
    ]
    assert [p["value"] for p in data["jobs"]] == [float(r) for r in results]
    text = path.read_text()
    for result in results:  # each run's URL is a link in the table (an anchor: nothing is fetched)
        assert result.url and f'<a href="{result.url}">' in text
