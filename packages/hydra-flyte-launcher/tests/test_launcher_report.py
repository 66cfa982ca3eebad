"""`hydra.launcher.report=true`: the example's `@hydra.main` sweep writes its HTML report when it ends.

Run as a user runs it (a subprocess), locally; without plotly the sweep stops before any job runs,
with the pip line that installs the report extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_flyte.report.html import read_report_data

pytestmark = pytest.mark.slow

ARGS = ["--multirun", "hydra/launcher=flyte", "hydra.launcher.mode=local", "hydra.launcher.report=true",
        "hydra.sweep.dir=sweep", "optimizer.lr=0.001,0.1"]  # fmt: skip


def run_train(
    project: Path, home: Path, *, block_plotly: bool = False, args: list[str] = ARGS
) -> subprocess.CompletedProcess[str]:
    """`python train.py ARGS` in `project`; with block_plotly, as if plotly were not installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "UCTL", "_U_EP"))}
    env.update({"HOME": str(home), "DO_NOT_TRACK": "1", "HYDRA_FULL_ERROR": "0"})
    block = "import sys; sys.modules['plotly'] = None; " if block_plotly else ""
    code = f"{block}import runpy, sys; sys.argv = ['train.py', *{args!r}]; runpy.run_path('train.py', run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def test_sweep_writes_its_report_when_it_ends(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(example_project, no_flyte_endpoint)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = example_project / "sweep"
    report = sweep / "flyte-sweep-report.html"
    assert f"Sweep report: {report.resolve()}" in proc.stderr
    data = read_report_data(report)
    manifest = json.loads((sweep / "flyte-sweep.json").read_text())
    assert [(j["job"], j["overrides"], j["value"]) for j in data["jobs"]] == [
        (r["job"], r["overrides"], r["value"]) for r in manifest["jobs"]
    ]
    assert [j["overrides"] for j in data["jobs"]] == [["optimizer.lr=0.001"], ["optimizer.lr=0.1"]]
    assert all(isinstance(j["objective"], float) for j in data["jobs"])


def test_report_without_plotly_stops_before_any_job(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(example_project, no_flyte_endpoint, block_plotly=True)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert (
        'the sweep report needs plotly, which is not installed: pip install "hydra-flyte-core[report]"'
        in text
    )
    assert "Traceback" not in text  # Hydra's compact error
    assert not (example_project / "sweep" / "flyte-sweep.json").exists()
    assert "finished: RunResult" not in text


def test_an_optuna_sweep_writes_and_announces_its_report_once(
    example_project: Path, no_flyte_endpoint: Path
) -> None:
    """Hydra's Optuna sweeper launches batch after batch: the report (like the summary) comes once, at the end,
    and Optuna's own log lines carry no colour codes when stderr is not a terminal."""
    args = [*ARGS[:-1], "hydra/sweeper=optuna", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1",
            "hydra.sweeper.sampler.seed=1", "optimizer.lr=interval(1e-3,1e-1)", "training.epochs=2"]  # fmt: skip
    proc = run_train(example_project, no_flyte_endpoint, args=args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count("Sweep report:") == 1, proc.stderr
    data = read_report_data(example_project / "sweep" / "flyte-sweep-report.html")
    assert len(data["jobs"]) == 4  # written when every trial had ended
    assert "A new study created" in proc.stderr  # Optuna's own log line is there...
    assert "\x1b[" not in proc.stderr  # ...without ANSI escape codes


def test_a_plain_install_depends_on_the_report_extra_as_on_the_image_one() -> None:
    # `pip install hydra-flyte-launcher` must make hydra.launcher.report=true work, as it makes
    # task_env.image work: both come from hydra-flyte-core's extras.
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    (core,) = [Requirement(d) for d in dependencies if Requirement(d).name == "hydra-flyte-core"]
    assert {"image", "report"} <= core.extras, core
