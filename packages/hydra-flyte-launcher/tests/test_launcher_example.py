"""The example's `@hydra.main` script (examples/train.py), run as a user runs it: a subprocess.

Every run here is local except the last ones, which check that remote mode without an endpoint
fails loudly instead of quietly running on this machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

FLOAT = r"[0-9]+\.[0-9]+(?:e-?[0-9]+)?"


def run_train(project: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`python train.py ARGS` in `project`, with HOME (and so the Flyte config it finds) isolated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "UCTL", "_U_EP"))}
    env.update({"HOME": str(home), "DO_NOT_TRACK": "1", "HYDRA_FULL_ERROR": "0"})
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


def table_rows(stdout: str) -> list[dict[str, str]]:
    """The summary table's rows on stdout (column -> cell; the job cell without its best-job mark)."""
    lines = stdout.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.startswith("│") and line.split("│")[1].strip() == "job"
    )
    names = [cell.strip() for cell in lines[header].strip("│").split("│")]
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("│"):
            break
        row = dict(zip(names, (cell.strip() for cell in line.strip("│").split("│")), strict=True))
        row["job"] = row["job"].replace("★", "").strip()
        rows.append(row)
    return rows


def write_flyte_config(home: Path, endpoint: str) -> None:
    """A Flyte config with an endpoint, where `flyte.init_from_config()` looks for it."""
    config = home / ".flyte" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"admin:\n  endpoint: {endpoint}\n  insecure: true\ntask:\n  project: p\n  domain: development\n"
    )


def test_single_local_run(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(
        example_project, "hydra/launcher=flyte", "hydra.launcher.mode=local", home=no_flyte_endpoint
    )
    assert proc.returncode == 0, output(proc)
    (row,) = table_rows(proc.stdout)  # the run's one-row summary, on stdout
    assert row["phase"] == "SUCCEEDED" and re.fullmatch(FLOAT, row["value / error"]), proc.stdout
    assert "RunResult(" not in output(proc)  # its value is printed once: in the summary
    # The task's log line in the one format of every entry point (Hydra's job log format), without
    # the local run's and action's ids that flyte.init_from_config() in the script would prefix.
    (line,) = [text for text in proc.stderr.splitlines() if "train_model:" in text]
    assert re.match(r"\[\d{4}-\d\d-\d\d [\d:,]+\]\[__main__\]\[INFO\] - train_model: ", line), line
    (run_dir,) = (example_project / "outputs").glob("*/*")
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    hydra_cfg = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())
    assert hydra_cfg["hydra"]["launcher"]["mode"] == "local"


def test_single_local_run_ignores_configured_endpoint(example_project: Path, no_flyte_endpoint: Path) -> None:
    """mode=local runs here even though the script's flyte.init_from_config() finds an endpoint."""
    write_flyte_config(no_flyte_endpoint, "dns:///127.0.0.1:9")  # nothing listens there
    proc = run_train(
        example_project, "hydra/launcher=flyte", "hydra.launcher.mode=local", home=no_flyte_endpoint
    )
    assert proc.returncode == 0, output(proc)
    assert [r["phase"] for r in table_rows(proc.stdout)] == ["SUCCEEDED"]


def test_local_grid_multirun(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(
        example_project,
        "--multirun",
        "hydra/launcher=flyte",
        "hydra.launcher.mode=local",
        "hydra.sweep.dir=sweep",
        "optimizer.lr=0.001,0.1",
        "training.epochs=3,5",
        home=no_flyte_endpoint,
    )
    assert proc.returncode == 0, output(proc)
    text = output(proc)
    assert "Launching 4 jobs on Flyte (local mode)" in proc.stderr  # Hydra's log lines: stderr
    losses = [(r["job"], r["overrides"], r["value / error"]) for r in table_rows(proc.stdout)]
    assert [(num, overrides) for num, overrides, _ in losses] == [
        ("0", "optimizer.lr=0.001 training.epochs=3"),
        ("1", "optimizer.lr=0.001 training.epochs=5"),
        ("2", "optimizer.lr=0.1 training.epochs=3"),
        ("3", "optimizer.lr=0.1 training.epochs=5"),
    ]
    for _, _, value in losses:  # each value printed once, in the summary
        assert proc.stdout.count(value) == 1 and "RunResult(" not in text
    assert "[hydra-flyte] 4/4 jobs done" in proc.stderr  # progress of a local sweep
    sweep = example_project / "sweep"
    assert (sweep / "multirun.yaml").is_file()
    for num in range(4):
        overrides = yaml.safe_load((sweep / str(num) / ".hydra" / "overrides.yaml").read_text())
        assert overrides == losses[num][1].split()


def test_local_optuna_multirun(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(
        example_project,
        "--multirun",
        "hydra/launcher=flyte",
        "hydra.launcher.mode=local",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.sampler.seed=1",
        "hydra.sweep.dir=optuna",
        "optimizer.lr=interval(1e-4,1e-1)",
        "training.epochs=5",
        "hydra.launcher.summary=json",
        home=no_flyte_endpoint,
    )
    assert proc.returncode == 0, output(proc)
    text = output(proc)
    document = json.loads(proc.stdout)  # the summary as one JSON document, nothing else on stdout
    values = [job["value"] for job in document["jobs"]]
    assert len(values) == 4 and document["direction"] == "minimize"
    assert values[document["best_job"]] == min(values)
    best = re.search(rf"Best value: ({FLOAT})", text)
    assert best, text
    assert float(best.group(1)) == pytest.approx(min(values))
    results = yaml.safe_load((example_project / "optuna" / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(min(values))


SUMMARY_KEYS = [
    "sweep_id",
    "manifest",
    "task",
    "mode",
    "project",
    "domain",
    "interrupted",
    "direction",
    "best_job",
    "jobs",
]  # fmt: skip  (README, "What a run or sweep prints")


def test_a_single_run_and_a_sweep_print_json_of_one_schema(
    example_project: Path, no_flyte_endpoint: Path
) -> None:
    common = [
        "hydra/launcher=flyte",
        "hydra.launcher.mode=local",
        "hydra.launcher.summary=json",
        "training.epochs=2",
    ]
    single = run_train(example_project, *common, home=no_flyte_endpoint)
    assert single.returncode == 0, output(single)
    run_doc = json.loads(single.stdout)
    sweep = run_train(example_project, "--multirun", *common, "optimizer.lr=0.01,0.1", home=no_flyte_endpoint)
    assert sweep.returncode == 0, output(sweep)
    sweep_doc = json.loads(sweep.stdout)
    assert list(run_doc) == list(sweep_doc) == SUMMARY_KEYS
    # The script chooses the task: the launcher does not know it.
    assert (run_doc["sweep_id"], run_doc["manifest"], run_doc["task"], run_doc["mode"]) == (
        None,
        None,
        None,
        "local",
    )
    assert sweep_doc["sweep_id"].startswith("hf-") and sweep_doc["manifest"].endswith("flyte-sweep.json")
    assert (run_doc["interrupted"], sweep_doc["interrupted"]) == (False, False)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["optimizer.lrr=0.1"], "Did you mean 'optimizer.lr'?"),
        (["modle=vit"], "Did you mean 'model'?"),
        (["--multirun", "optimizer.lrr=0.1,0.2"], "Did you mean 'optimizer.lr'?"),
        (["--multirun", "model=vitt,resnet"], "Did you mean 'model=vit'?"),
    ],
    ids=["key", "group", "sweep-key", "sweep-option"],
)
def test_a_misspelled_override_gets_the_closest_name(
    example_project: Path, no_flyte_endpoint: Path, args: list[str], hint: str
) -> None:
    # Hydra composes a @hydra.main app's config before any launcher runs: the hint still comes,
    # under Hydra's own message (kept as Hydra prints it).
    proc = run_train(example_project, *args, "hydra/launcher=flyte", "hydra.launcher.mode=local",
                     home=no_flyte_endpoint)  # fmt: skip
    assert proc.returncode == 1, output(proc)
    lines = proc.stderr.splitlines()
    assert hint in lines, proc.stderr
    assert lines.index(hint) > 0 and "Could not" in proc.stderr and proc.stdout == ""


def test_an_app_on_another_launcher_keeps_hydras_error_as_it_is(
    example_project: Path, no_flyte_endpoint: Path
) -> None:
    proc = run_train(example_project, "optimizer.lrr=0.1", home=no_flyte_endpoint)
    assert proc.returncode == 1, output(proc)
    assert "Could not override 'optimizer.lrr'." in proc.stderr and "Did you mean" not in proc.stderr


@pytest.mark.parametrize("multirun", [False, True], ids=["single", "multirun"])
def test_remote_without_endpoint_fails(
    example_project: Path, no_flyte_endpoint: Path, multirun: bool
) -> None:
    args = ["--multirun", "optimizer.lr=0.001,0.01", "hydra.sweep.dir=sweep"] if multirun else []
    proc = run_train(example_project, *args, "hydra/launcher=flyte", home=no_flyte_endpoint)
    assert proc.returncode != 0, output(proc)
    assert proc.stderr.count("no Flyte endpoint configured:") == 1, proc.stderr  # one message, not one a job
    assert "hydra.launcher.mode=local" in proc.stderr  # the message says how to run locally instead
    assert "train_model:" not in output(proc)  # nothing ran on this machine
    if multirun:  # the jobs are not at fault, and nothing is claimed that was not written or left behind
        sweep = example_project / "sweep"
        assert "invalid" not in proc.stderr and "Fix these jobs" not in proc.stderr, proc.stderr
        assert not (sweep / "flyte-sweep.json").exists() and "manifest at" not in proc.stderr, proc.stderr
        assert not (sweep / ".flyte-sweep.lock.owner").exists()


def test_single_run_dry_run_prints_its_plan_not_a_run(example_project: Path, no_flyte_endpoint: Path) -> None:
    """A dry run through @hydra.main prints what would run (task, run name, image, resources), as the
    CLI and --multirun do; nothing ran, so nothing is shown as SUCCEEDED."""
    proc = run_train(
        example_project,
        "hydra/launcher=flyte",
        "hydra.launcher.dry_run=true",
        "hydra.launcher.run_options.name=exp-dry",
        "+task_env=prebuilt_image",
        home=no_flyte_endpoint,
    )
    assert proc.returncode == 0, output(proc)
    (line,) = proc.stdout.splitlines()
    assert line.startswith("run [+task_env=prebuilt_image]: training.pipeline as exp-dry (remote)"), line
    assert "image=ghcr.io/example/hydra-flyte-training:latest" in line and "resources=" in line, line
    assert "SUCCEEDED" not in output(proc) and "DryRunPlan(" not in output(proc)


def test_wait_false_without_endpoint_fails(example_project: Path, no_flyte_endpoint: Path) -> None:
    """Fire-and-forget still needs somewhere to submit to."""
    proc = run_train(
        example_project, "hydra/launcher=flyte", "hydra.launcher.wait=false", home=no_flyte_endpoint
    )
    assert proc.returncode != 0
    assert "no Flyte endpoint configured:" in proc.stderr


def test_bad_mode_fails(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(
        example_project, "hydra/launcher=flyte", "hydra.launcher.mode=cloud", home=no_flyte_endpoint
    )
    assert proc.returncode != 0
    assert "mode must be 'local' or 'remote', got 'cloud'" in proc.stderr
    assert "train_model:" not in output(proc)


def test_unknown_launcher_field_fails(example_project: Path, no_flyte_endpoint: Path) -> None:
    proc = run_train(
        example_project, "hydra/launcher=flyte", "hydra.launcher.wiat=false", home=no_flyte_endpoint
    )
    assert proc.returncode == 1
    assert "unknown launcher field hydra.launcher.wiat. Did you mean 'wait'?" in proc.stderr
    assert "The flyte launcher accepts: mode, wait, wait_max_workers" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
