"""Smoke test of the benchmark harness: `benchmarks/run.py --quick --only ours` runs every workload once.

Only our side is run (no venv for the other package is built), with tiny N; it checks that each
workload produced figures and that the Markdown and JSON files have every section. About 45 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_quick_benchmark_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "ours", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    data = json.loads(out.with_suffix(".json").read_text())
    assert data["mode"] == "quick" and data["only"] == "ours"
    expected = {"compose", "local", "submit_50", "submit_200", "wait_20", "submit_1000", "main_200"}
    assert set(data["workloads"]) == expected
    for key, workload in data["workloads"].items():
        assert workload["errors"] == [], key
        assert workload["all_ok"] == {"ours": True}, key
        assert "theirs" not in workload["samples"], key
    medians = {key: w["medians"]["ours"] for key, w in data["workloads"].items()}
    for key in ("submit_50", "submit_200", "submit_1000", "wait_20", "local", "main_200"):
        assert medians[key]["seconds"] > 0, key
    assert medians["submit_1000"]["peak_rss_mb"] > 0
    assert medians["local"]["overhead_per_job_ms"] is not None
    assert medians["compose"]["hydra_value_ms"] > 0 and medians["compose"]["hydra_group_ms"] > 0
    assert data["startup"]["median_ms"]["flyte_help_with"] > 0
    assert data["startup"]["median_ms"]["hydra_app_with"] > 0
    assert data["startup"]["plugin_imports"]["ms"] > 0
    assert medians["main_200"]["sdk_seconds"] > 0 and medians["main_200"]["main_over_sdk"] > 0
    assert len(data["goals"]) == 9
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]

    text = out.read_text()
    for heading in (
        "## Goals",
        "## 1. Remote grid-sweep submission",
        "## 2. Remote sweep, waiting, tasks executed",
        "## 3. Local-mode sweep",
        "## 4. Composition alone",
        "## 5. Start-up cost",
        "## 6. Peak memory",
        "## 7. `@hydra.main` submission",
        "## Machine",
    ):
        assert heading in text, heading
    assert "Quick smoke run" in text


def test_the_optuna_async_section_is_spliced_in_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """run.py rewrites RESULTS.md: section 8 (optuna_async) is replaced when it ran, kept when it did not."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import run

    old = "## 8. optuna_async vs stock Optuna (x)\n\nold figures\n"
    earlier = f"# Results\n\n## 7. seven\n\nseven's figures\n\n{old}"
    assert run.previous_section(earlier) == old
    regenerated = "# Results\n\n## 7. seven\n\nnew seven\n"  # a driver run writes the file without section 8
    kept = run.splice_section(regenerated, run.previous_section(earlier))
    assert kept == f"{regenerated}\n{old}"
    new = "## 8. optuna_async vs stock Optuna (x)\n\nnew figures\n"
    middle = f"{earlier}\n## 9. later\n\nnine\n"
    assert (
        run.splice_section(middle, new)
        == f"# Results\n\n## 7. seven\n\nseven's figures\n\n{new}\n## 9. later\n\nnine\n"
    )
    assert run.splice_section(earlier, "") == earlier
