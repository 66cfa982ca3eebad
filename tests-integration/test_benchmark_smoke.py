"""Smoke test of the benchmark harness: `benchmarks/run.py --quick --only ours` runs every workload once.

Only our side is run (no venv for the other package is built), with tiny N; it checks that each
workload produced figures and that the Markdown and JSON files have every section. About 45 s.
"""

from __future__ import annotations

import json
import os
import statistics
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
    # Section 9 (tricks.py's, pasted by hand) is kept after section 8 the same way.
    tricks = "## 9. Speed tricks, each measured alone\n\ntable\n"
    both = f"{earlier}\n{tricks}"
    assert run.previous_section(both) == old + "\n"
    assert run.previous_section(both, run.TRICKS_HEADING) == tricks
    rewritten = run.splice_section(run.splice_section(regenerated, new), tricks, run.TRICKS_HEADING)
    assert rewritten == f"{regenerated}\n{new}\n{tricks}"


def test_optuna_async_handover_pairs_each_freed_slot_with_the_run_that_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hand-over: the k-th run to end frees the slot of the (n_jobs + k)-th run created."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import optuna_async_bench as bench

    # [created, started, ended], two slots: run 1 ends first (at 2.0), run 2 is created at 2.1 in its slot;
    # run 0 ends at 5.0, run 3 is created at 5.5.
    runs = [[0.0, 0.0, 5.0], [0.0, 0.0, 2.0], [2.1, 2.1, 6.0], [5.5, 5.5, 9.0]]
    assert bench.handover(runs, 2) == pytest.approx(0.5 * (0.1 + 0.5))
    assert bench.handover(runs[:2], 2) == 0.0  # no trial after the first slots


def test_optuna_async_section_has_a_table_per_sleep_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import optuna_async_bench as bench

    def sample(wall: float) -> dict:
        return {"wall_s": wall, "busy_s": 40.0, "utilisation": 40.0 / (4 * wall), "floor_s": 10.0,
                "wall_over_floor": wall / 10.0, "handover_s": 0.2, "best": 0.01, "runs": 8,
                "run_times": [[0.0, 0.0, 1.0]]}  # fmt: skip

    workloads = [
        bench._workload({"optuna": [sample(15.0)], "optuna_async": [sample(10.0)]}, scale)
        for scale in (1.0, 3.0)
    ]
    assert workloads[0]["ratio_stock_over_async"] == pytest.approx(1.5)
    report = {"n_trials": 8, "n_jobs": 4, "reps": 1, "workloads": workloads, "commit": "abc",
              "load": [[1.0], [1.0]], "argv": ["--sleep-scales", "1,3", "--json", "x.json"],
              "versions": {"hydra-optuna-sweeper": "1.3.0", "optuna": "2.10.1"}}  # fmt: skip
    text = bench.markdown(report, json_name="x.json")
    assert text.startswith(bench.HEADING)
    assert "### Sleeps of 1 + 5u s" in text and "### Sleeps of 3 x (1 + 5u) s" in text
    assert text.count("**1.50x**") == 2 and "Goal >= 1.4x: **met**" in text
    assert "optuna_async_bench.py --sleep-scales 1,3`" in text  # where the JSON went is left out
    assert "batch's trials, 1.00 (median" in text  # one run a batch of one: nothing uneven
    batches = [{"run_times": [[0, 0, 1.0], [0, 0, 3.0], [5, 5, 7.0], [5, 5, 7.0]]}]
    assert bench.batch_spread(batches, 2) == pytest.approx(statistics.median([3.0 / 2.0, 1.0]))


def test_durable_bench_runs_a_tiny_sweep_attached_and_detached(tmp_path: Path) -> None:
    """benchmarks/durable_bench.py at a tiny size: every side measured, values checked, the section written."""
    out_json, out_md = tmp_path / "DURABLE.json", tmp_path / "section.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "durable_bench.py"), "--jobs", "4", "--concurrency", "2",
         "--reps", "1", "--json", str(out_json), "--markdown", str(out_md)],
        cwd=REPO, env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out_json.read_text())
    assert (data["jobs"], data["concurrency"], data["reps"]) == (4, 2, 1)
    median = data["median"]
    assert set(median) == {"attached", "detached --wait", "detached, returning"}
    assert median["attached"]["wall_s"] > 0 and median["detached --wait"]["wall_s"] > 0
    returning = median["detached, returning"]
    assert 0 < returning["return_s"] and returning["status_after_end_s"] > 0
    driver = median["detached --wait"]
    assert 0 < driver["driver_startup_s"] < driver["driver_process_s"] <= driver["span_s"]
    assert "overhead_per_child_ms" in data["derived"] and data["machine"]["cores"] >= 1
    text = out_md.read_text()
    assert text.startswith("## 11. Detached vs attached") and "| attached |" in text
    assert f"on {data['machine']['cores']} cores" in text
    assert "--jobs 4 --concurrency 2 --reps 1`" in text  # where the files went is left out


def test_run_py_keeps_the_durable_section(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sections 11 and 12 (durable_bench.py's and dry_run_bench.py's, pasted by hand) survive a run.py rewrite."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import run

    quota = "## 10. A 200-job sweep under a run quota (x)\n\nquota\n"
    durable = "## 11. Detached vs attached, a 40-job sweep (x)\n\ndurable\n"
    earlier = f"# Results\n\n{quota}\n{durable}"
    assert run.previous_section(earlier, run.QUOTA_HEADING) == quota + "\n"
    assert run.previous_section(earlier, run.DURABLE_HEADING) == durable
    regenerated = "# Results\n\nnew\n"
    rewritten = run.splice_section(
        run.splice_section(regenerated, quota, run.QUOTA_HEADING), durable, run.DURABLE_HEADING
    )
    assert rewritten == f"{regenerated}\n{quota}\n{durable}"
    dry_run = "## 12. A 2,000-job dry run through each entry point (x)\n\ndry run\n"
    assert run.previous_section(f"{earlier}\n{dry_run}", run.DRY_RUN_HEADING) == dry_run
    assert run.splice_section(rewritten, dry_run, run.DRY_RUN_HEADING) == f"{rewritten}\n{dry_run}"
