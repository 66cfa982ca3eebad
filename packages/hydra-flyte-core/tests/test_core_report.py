"""sweep_report on manifests written here: remote records (URLs, failures, odd values), and plotly missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hydra_flyte import ConfigurationError, Manifest, sweep_report
from hydra_flyte.report.html import read_report_data


def remote_manifest(sweep_dir: Path) -> Manifest:
    manifest = Manifest.create(sweep_dir, sweep_id="hf-report1", task="train.pipeline")
    jobs = [(0, ["lr=0.1", "model=a"]), (1, ["lr=0.01", "model=b"]), (2, ["lr=1", "model=a"]),
            (3, ["lr=0.5", "model=b"])]  # fmt: skip
    manifest.plan((n, o, f"hf-report1-{n}") for n, o in jobs)
    for n, _ in jobs:
        manifest.submitted(
            n, run_name=f"hf-report1-{n}", url=f"http://flyte.example:30080/runs/hf-report1-{n}"
        )
    manifest.finished(0, phase="SUCCEEDED", value=0.5)
    manifest.finished(1, phase="FAILED", error="ValueError: diverged </script><b>")
    manifest.finished(2, phase="SUCCEEDED", value=0.25)
    manifest.finished(3, phase="SUCCEEDED", value="not a number")
    manifest.save()
    return manifest


def test_report_of_remote_records(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    remote_manifest(sweep_dir)
    path = sweep_report(sweep_dir)
    data = read_report_data(path)
    assert [(j["job"], j["phase"], j["value"], j["objective"]) for j in data["jobs"]] == [
        (0, "SUCCEEDED", 0.5, 0.5),
        (1, "FAILED", None, None),
        (2, "SUCCEEDED", 0.25, 0.25),
        (3, "SUCCEEDED", "not a number", None),
    ]
    assert [j["best_so_far"] for j in data["jobs"]] == [0.5, 0.5, 0.25, 0.25]
    assert data["best_job"] == 2 and data["mode"] == "remote"
    assert data["params"] == [{"name": "lr", "kind": "numeric"}, {"name": "model", "kind": "choice"}]
    assert data["jobs"][1]["error"] == "ValueError: diverged </script><b>"
    text = path.read_text()
    # Run URLs are links (anchors, which load nothing); the error is escaped, not markup.
    assert '<a href="http://flyte.example:30080/runs/hf-report1-0">' in text
    assert "diverged &lt;/script&gt;&lt;b&gt;" in text
    assert '<tr class="best"><td class="num" data-sort="2">2</td>' in text


def test_output_path_and_a_directory_without_manifest(tmp_path: Path) -> None:
    remote_manifest(tmp_path / "sweep")
    target = sweep_report(tmp_path / "sweep", output=tmp_path / "out" / "r.html")
    assert target == tmp_path / "out" / "r.html" and target.is_file()
    assert not (tmp_path / "sweep" / "flyte-sweep-report.html").exists()
    with pytest.raises(ConfigurationError, match="no sweep manifest at"):
        sweep_report(tmp_path)


def test_missing_plotly_names_the_pip_line(tmp_path: Path) -> None:
    remote_manifest(tmp_path / "sweep")
    code = (
        "import sys; sys.modules['plotly'] = None\n"  # an import of plotly now raises ImportError
        "from hydra_flyte import sweep_report, ConfigurationError\n"
        "try:\n    sweep_report(sys.argv[1])\n"
        "except ConfigurationError as exc:\n    print(exc); sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "sweep")], capture_output=True, text=True
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.strip() == (
        'the sweep report needs plotly, which is not installed: pip install "hydra-flyte-core[report]"  '
        "(or: pip install plotly)"
    )
    assert not (tmp_path / "sweep" / "flyte-sweep-report.html").exists()


@pytest.mark.parametrize(
    "sweeper", [[], ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2"]],
    ids=["grid", "optuna"],
)  # fmt: skip
def test_the_manifest_path_is_absolute_in_the_report_and_the_summary(
    sweeper: list[str], conf_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core_tasks import objective

    from hydra_flyte import hydra_sweep

    lr = "optimizer.lr=interval(0.1,0.2)" if sweeper else "optimizer.lr=0.1,0.2"
    hydra_sweep(objective, config_path=conf_dir, config_name="training", mode="local", report=True,
                overrides=[*sweeper, "hydra.sweep.dir=sweeps/here", lr])  # fmt: skip
    manifest = (tmp_path / "sweeps" / "here" / "flyte-sweep.json").resolve()
    report = manifest.with_name("flyte-sweep-report.html")
    assert read_report_data(report)["manifest"] == str(manifest)
    assert f"Manifest: {manifest}. Click a column header to sort." in report.read_text()
    out = capsys.readouterr()
    assert f"Manifest: {manifest}" in out.out, out.out  # under the summary table
    assert f"Sweep report: {report}" in out.err
