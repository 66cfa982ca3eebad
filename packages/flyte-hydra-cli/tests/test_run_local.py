"""Real local runs (Flyte's local mode runs the task in-process) through `flyte hydra run --local`."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import LOCAL, best_job, flat, flyte, hydra_run, single_value, summary_rows

JOB_LINE = re.compile(r"^job (\d+)(?: \[(.*)\])?: (.*)$")


def job_lines(stdout: str) -> list[tuple[int, str, str]]:
    """A dry run's plan lines: `job N [overrides]: plan`."""
    return [(int(m[1]), m[2], m[3]) for line in stdout.splitlines() if (m := JOB_LINE.match(line))]


def jobs(stdout: str) -> list[tuple[int, str, str]]:
    """The summary table's rows: (job, overrides, value or error)."""
    return [(int(r["job"]), r["overrides"], r["value / error"]) for r in summary_rows(stdout)]


def test_single_run_prints_its_value(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "score", "--cfg", "optimizer.lr=0.2")
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "2.0"


def test_mode_local_is_the_same_as_local(project) -> None:
    result = hydra_run(
        "--mode", "local", "--config-path", "conf", "--config-name", "main", "fixture_tasks.py", "score"
    )
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "1.0"


def test_task_inputs_use_flyte_type_conversion(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "score", "--offset", "1.5", "--cfg", "training.epochs=2")
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "1.7"


@pytest.mark.parametrize("form", ["separate", "equals"])
def test_config_parameter_named_config_takes_config_flag(project, form) -> None:
    overrides = ["--config", "optimizer=sgd"] if form == "separate" else ["--config=optimizer=sgd"]
    result = hydra_run(*LOCAL, "fixture_tasks.py", "describe", "--label", "x", *overrides)
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "x:sgd:0.5"


def test_structured_config_registered_by_the_script(project) -> None:
    # No --config-path: the config exists only in the ConfigStore, registered when the script is imported.
    result = hydra_run(
        "--local", "--config-name", "structured", "fixture_tasks.py", "steps", "--cfg", "steps.count=5"
    )
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "10"


def test_hydra_override_before_and_after_the_task(project) -> None:
    result = hydra_run(
        *LOCAL,
        "--hydra-override",
        "hydra.job.name=early",
        "fixture_tasks.py",
        "score",
        "--hydra-override",
        "hydra.run.dir=outputs/custom",
    )
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "1.0"


def test_grid_sweep_prints_one_row_per_job(project) -> None:
    result = hydra_run(
        *LOCAL,
        "--multirun",
        "fixture_tasks.py",
        "score",
        "--cfg",
        "optimizer.lr=0.1,0.2",
        "--cfg",
        "training.epochs=1,2",
    )
    assert result.exit_code == 0, result.output
    lines = jobs(result.stdout)
    assert [(n, v) for n, _, v in lines] == [(0, "0.1"), (1, "0.2"), (2, "0.2"), (3, "0.4")]


def test_local_sweep_prints_each_value_once_and_only_results_on_stdout(project) -> None:
    result = hydra_run(
        *LOCAL, "-m", "fixture_tasks.py", "score", "--offset", "0.123456789",
        "--cfg", "optimizer.lr=0.1,0.2", "--cfg", "training.epochs=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for shown, exact in (("0.223457", "0.223456789"), ("0.323457", "0.323456789")):
        assert result.stdout.count(shown) == 1, result.stdout  # the summary's rounded value, once
        assert shown not in result.stderr and exact not in result.output  # no log line repeats it
    assert "RunResult(" not in result.output
    rows = summary_rows(result.stdout)
    assert [(r["job"], r["phase"]) for r in rows] == [("0", "SUCCEEDED"), ("1", "SUCCEEDED")]
    assert "every job: training.epochs=1" in result.stdout  # shared overrides said once, in the caption
    assert best_job(result.stdout) == "0" and "minimise assumed" in result.stdout
    # Progress and Hydra's logs are on stderr, none of them on stdout.
    assert "[HYDRA]" not in result.stdout and "[hydra-flyte]" not in result.stdout
    assert "[hydra-flyte] 2/2 jobs done" in result.stderr


def test_local_sweep_with_output_format_json_prints_one_document(project) -> None:
    result = flyte(
        "-of", "json", "hydra", "run", *LOCAL, "-m", "fixture_tasks.py", "explode",
        "--cfg", "training.epochs=3,20",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)  # the whole of stdout: one JSON document, nothing else
    assert [(j["job"], j["phase"], j["value"]) for j in document["jobs"]] == [
        (0, "SUCCEEDED", 3.0),
        (1, "FAILED", None),
    ]
    assert "too many epochs: 20" in document["jobs"][1]["error"]
    assert document["jobs"][0]["overrides"] == ["training.epochs=3"]
    assert document["mode"] == "local" and document["best_job"] is None  # one number: nothing to compare
    assert "1 of 2 jobs failed." in flat(result.stderr)


def test_single_run_with_output_format_json_keeps_full_precision(project) -> None:
    result = flyte(
        "-of", "json", "hydra", "run", *LOCAL, "fixture_tasks.py", "score", "--offset", "0.123456789"
    )
    assert result.exit_code == 0, result.output
    (job,) = json.loads(result.stdout)["jobs"]
    assert job["value"] == 1.123456789 and job["phase"] == "SUCCEEDED"


def test_grid_sweep_lines_name_each_jobs_overrides(project) -> None:
    result = hydra_run(*LOCAL, "-m", "fixture_tasks.py", "score", "--cfg", "optimizer.lr=0.1,0.2")
    assert [o for _, o, _ in jobs(result.stdout)] == ["optimizer.lr=0.1", "optimizer.lr=0.2"]


def test_optuna_sweep(project) -> None:
    result = hydra_run(
        *LOCAL,
        "-m",
        "fixture_tasks.py",
        "score",
        "--hydra-override",
        "hydra/sweeper=optuna",
        "--hydra-override",
        "hydra.sweeper.n_trials=3",
        "--hydra-override",
        "hydra.sweeper.n_jobs=1",
        "--cfg",
        "optimizer.lr=interval(0.1,0.2)",
    )
    assert result.exit_code == 0, result.output
    lines = jobs(result.stdout)
    assert [n for n, _, _ in lines] == [0, 1, 2]
    assert all(1.0 <= float(v) <= 2.0 for _, _, v in lines)


def test_failed_run_exits_1(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "explode", "--cfg", "training.epochs=20")
    assert result.exit_code == 1
    assert "ended in phase FAILED" in flat(result.output)
    assert "too many epochs: 20" in flat(result.output)


def test_failed_sweep_job_exits_1_after_every_job_ran(project) -> None:
    result = hydra_run(*LOCAL, "-m", "fixture_tasks.py", "explode", "--cfg", "training.epochs=5,20,7")
    assert result.exit_code == 1
    lines = jobs(result.stdout)
    assert [(n, o) for n, o, _ in lines] == [
        (0, "training.epochs=5"),
        (1, "training.epochs=20"),
        (2, "training.epochs=7"),
    ]
    assert lines[0][2] == "5.0" and lines[2][2] == "7.0"
    assert "too many epochs: 20" in lines[1][2]
    assert [r["phase"] for r in summary_rows(result.stdout)] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "1 of 3 jobs failed." in flat(result.output)


def test_env_vars_reach_the_task(project) -> None:
    (project / "env_task.py").write_text(
        "import os\nimport flyte\nfrom omegaconf import DictConfig\n"
        "env = flyte.TaskEnvironment(name='envcheck')\n"
        "@env.task\nasync def read(cfg: DictConfig) -> str:\n    return os.environ.get('HF_CLI_PROBE', 'unset')\n"
    )
    result = hydra_run("--local", "--env", "HF_CLI_PROBE=hello", "env_task.py", "read")
    assert result.exit_code == 0, result.output
    assert single_value(result.stdout) == "hello"


def test_name_with_multirun_runs_every_job(project) -> None:
    result = flyte(
        "hydra",
        "run",
        *LOCAL,
        "-m",
        "--name",
        "sweep",
        "fixture_tasks.py",
        "score",
        "--cfg",
        "training.epochs=1,2",
    )
    assert result.exit_code == 0, result.output
    assert len(jobs(result.stdout)) == 2


def test_dry_run_of_a_local_sweep_prints_one_line_per_job_and_runs_nothing(project) -> None:
    # `explode` raises for epochs above 10: had any job run, the sweep would have failed.
    result = hydra_run(
        *LOCAL, "--multirun", "--dry-run", "fixture_tasks.py", "explode",
        "--cfg", "training.epochs=11,12", "--cfg", "optimizer=adam,sgd", "--cfg", "+task_env.explode.retries=2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = job_lines(result.stdout)
    assert [(num, overrides) for num, overrides, _ in lines] == [
        (0, "training.epochs=11 optimizer=adam +task_env.explode.retries=2"),
        (1, "training.epochs=11 optimizer=sgd +task_env.explode.retries=2"),
        (2, "training.epochs=12 optimizer=adam +task_env.explode.retries=2"),
        (3, "training.epochs=12 optimizer=sgd +task_env.explode.retries=2"),
    ]
    for _, _, body in lines:
        assert body.startswith("fixture.explode as ")  # the task and the run name
        assert "(local)" in body
        assert "task_env: retries=2" in body  # the task_env that would apply
    # Nothing else on stdout (Hydra's log lines go to stderr; no values: no job ran).
    others = [line for line in result.stdout.splitlines() if not JOB_LINE.match(line)]
    assert others == []
    assert "[HYDRA]" in result.stderr
    assert "too many epochs" not in result.output


def test_dry_run_of_a_remote_sweep_needs_no_endpoint_and_names_every_run(project) -> None:
    # No Flyte endpoint is configured here: a real remote sweep would exit 1 before submitting.
    result = hydra_run(
        "--config-path", "conf", "--config-name", "main", "--multirun", "--dry-run", "--name", "exp",
        "fixture_tasks.py", "score", "--cfg", "optimizer.lr=0.1,0.2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bodies = [body for _, _, body in job_lines(result.stdout)]
    assert len(bodies) == 2
    assert bodies[0].startswith("fixture.score as exp-0 (remote)")
    assert bodies[1].startswith("fixture.score as exp-1 (remote)")
    assert "Submitted" not in result.stdout


def test_dry_run_of_a_single_run_prints_its_plan(project) -> None:
    result = hydra_run(*LOCAL, "--dry-run", "fixture_tasks.py", "explode", "--cfg", "training.epochs=11")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("run [training.epochs=11]: fixture.explode as ")


def test_dry_run_fails_with_exit_2_when_a_job_does_not_compose(project) -> None:
    result = hydra_run(
        *LOCAL, "--multirun", "--dry-run", "fixture_tasks.py", "score", "--cfg", "optimizer=adam,nope"
    )
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "optimizer/nope" in text and "Available options in 'optimizer'" in text
    assert "Traceback" not in result.output
    assert not job_lines(result.stdout)


# The one JSON schema of a summary (README, "What a run or sweep prints"): these keys, in this
# order, for a single run, a sweep and `flyte hydra status`; None where a run has no such thing.
SUMMARY_SCHEMA = {
    "sweep_id": (str, type(None)),
    "manifest": (str, type(None)),
    "task": (str, type(None)),
    "mode": (str,),
    "project": (str, type(None)),
    "domain": (str, type(None)),
    "interrupted": (bool,),
    "direction": (str, type(None)),
    "best_job": (int, type(None)),
    "jobs": (list,),
}
JOB_KEYS = ["job", "overrides", "run_name", "url", "phase", "value", "error", "attempts", "updated_at",
            "duration_seconds", "action"]  # fmt: skip


def check_summary_schema(document: dict) -> None:
    assert list(document) == list(SUMMARY_SCHEMA), list(document)
    for key, types in SUMMARY_SCHEMA.items():
        assert isinstance(document[key], types), (key, document[key])
    assert document["mode"] in ("local", "remote")
    assert all(list(job) == JOB_KEYS for job in document["jobs"]), document["jobs"]


def test_a_single_run_a_sweep_and_status_print_json_of_one_schema(project) -> None:
    single = flyte("-of", "json", "hydra", "run", *LOCAL, "fixture_tasks.py", "score")
    assert single.exit_code == 0, single.output
    run_doc = json.loads(single.stdout)
    check_summary_schema(run_doc)
    assert (run_doc["sweep_id"], run_doc["manifest"], run_doc["task"]) == (None, None, "fixture.score")
    assert (run_doc["interrupted"], run_doc["best_job"]) == (False, None)  # one job: nothing to compare

    sweep = flyte("-of", "json", "hydra", "run", *LOCAL, "-m", "--hydra-override", "hydra.sweep.dir=sweep",
                  "fixture_tasks.py", "score", "--cfg", "optimizer.lr=0.1,0.2")  # fmt: skip
    assert sweep.exit_code == 0, sweep.output
    sweep_doc = json.loads(sweep.stdout)
    check_summary_schema(sweep_doc)
    manifest = (project / "sweep" / "flyte-sweep.json").resolve()
    assert sweep_doc["sweep_id"].startswith("hf-") and sweep_doc["manifest"] == str(manifest)
    assert (sweep_doc["task"], sweep_doc["best_job"]) == ("fixture.score", 0)

    status = flyte("-of", "json", "hydra", "status", "sweep")
    assert status.exit_code == 0, status.output
    status_doc = json.loads(status.stdout)
    check_summary_schema(status_doc)
    assert status_doc == sweep_doc  # a local sweep's status is its manifest as recorded
