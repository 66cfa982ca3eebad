"""`flyte hydra report`, `status` and `rerun` on a local sweep the CLI ran (real local runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import LOCAL, flat, flyte, hydra_run, summary_rows

from hydra_flyte.report.html import read_report_data


def local_sweep(project: Path) -> Path:
    result = hydra_run(*LOCAL, "-m", "--hydra-override", "hydra.sweep.dir=sweep", "fixture_tasks.py", "explode",
                       "--cfg", "training.epochs=5,20,7")  # fmt: skip
    assert result.exit_code == 1, result.output  # job 1 fails (too many epochs)
    return project / "sweep"


def test_report_status_and_rerun_of_a_local_sweep(project: Path) -> None:
    sweep = local_sweep(project)
    result = flyte("hydra", "report", "sweep")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str((sweep / "flyte-sweep-report.html").resolve())
    data = read_report_data(sweep / "flyte-sweep-report.html")
    assert [(j["job"], j["phase"], j["value"]) for j in data["jobs"]] == [
        (0, "SUCCEEDED", 5.0), (1, "FAILED", None), (2, "SUCCEEDED", 7.0)
    ]  # fmt: skip
    assert "too many epochs: 20" in data["jobs"][1]["error"]

    status = flyte("hydra", "status", "sweep")  # no Flyte config in reach: read from the manifest
    assert status.exit_code == 1, status.output  # a job failed
    rows = summary_rows(status.stdout)
    assert [(r["overrides"], r["phase"]) for r in rows][1] == ("training.epochs=20", "FAILED")
    assert "1 failed, 2 succeeded" in status.stdout

    rerun = flyte("hydra", "rerun", "sweep", "--failed")
    assert rerun.exit_code == 2
    assert "is a local sweep (failed: job 1)" in flat(rerun.output)


def test_report_of_a_directory_without_manifest_exits_2(project: Path) -> None:
    result = flyte("hydra", "report", str(project))
    assert result.exit_code == 2
    assert "no sweep manifest at" in flat(result.output)
    assert not (project / "flyte-sweep-report.html").exists()


def test_report_without_plotly_exits_1_with_the_pip_line(project: Path) -> None:
    local_sweep(project)
    code = "import sys; sys.modules['plotly'] = None; from flyte.cli.main import main; main(sys.argv[1:])"
    env = {**os.environ, "COLUMNS": "240", "DO_NOT_TRACK": "1"}
    proc = subprocess.run([sys.executable, "-c", code, "hydra", "report", "sweep"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'pip install "hydra-flyte-core[report]"' in flat(proc.stderr)
    assert not (project / "sweep" / "flyte-sweep-report.html").exists()


def test_run_with_report_writes_it_when_the_sweep_ends(project: Path) -> None:
    result = hydra_run(*LOCAL, "-m", "--report", "--hydra-override", "hydra.sweep.dir=sweep", "fixture_tasks.py",
                       "score", "--cfg", "optimizer.lr=0.1,0.2")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = project / "sweep" / "flyte-sweep-report.html"
    assert f"Sweep report: {report.resolve()}" in result.stderr
    data = read_report_data(report)
    assert [(j["params"], j["phase"]) for j in data["jobs"]] == [
        ({"optimizer.lr": 0.1}, "SUCCEEDED"), ({"optimizer.lr": 0.2}, "SUCCEEDED")
    ]  # fmt: skip


def test_a_plain_install_depends_on_the_report_extra_as_on_the_image_one() -> None:
    # `pip install flyte-hydra-cli` must give `flyte hydra report` its plotly, as it gives
    # task_env.image its kubernetes client: both come from hydra-flyte-core's extras.
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    (core,) = [Requirement(d) for d in dependencies if Requirement(d).name == "hydra-flyte-core"]
    assert {"image", "report"} <= core.extras, core
