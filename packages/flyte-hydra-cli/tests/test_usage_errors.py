"""Every usage error: exit code 2 (1 for a script that fails to import), a message naming the bad
value and the fix, and no traceback. Nothing here reaches Flyte: errors are found first."""

from __future__ import annotations

import pytest
from cli_helpers import LOCAL, flat, flyte, hydra_run

SCORE = ("fixture_tasks.py", "score")


def assert_usage_error(result, *fragments: str, code: int = 2) -> None:
    text = flat(result.output)
    assert result.exit_code == code, result.output
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ("--local", "--mode", "remote"),
            ["--local runs the task on this machine but --mode remote", "pass one"],
        ),
        (("--tracked", "--mode", "remote"), ["--tracked runs the task on this machine but --mode remote"]),
        (
            ("--follow", "--no-wait"),
            ["--follow streams the run's logs", "--no-wait returns", "drop one of them"],
        ),
        (("--follow", "--local"), ["--follow streams the logs of a remote run", "drop --follow"]),
        (("--follow", "--multirun"), ["--follow streams the logs of a single run", "--multirun"]),
        (("--local", "--no-wait"), ["--no-wait applies to remote runs", "drop --no-wait"]),
        (("--tui",), ["--tui is not supported by `flyte hydra run`", "drop --tui"]),
        (
            ("--run-project", "p"),
            ["--run-project only applies to `flyte run deployed-task`", "use --project"],
        ),
        (("--run-domain", "d"), ["--run-domain only applies to `flyte run deployed-task`", "use --domain"]),
        (("--tracked-strict",), ["--tracked-strict only makes sense with --tracked"]),
        (("--env", "FOO"), ["'FOO' is not KEY=VALUE", "--env name=value"]),
        (("--label", "=x"), ["'=x' is not KEY=VALUE", "--label name=value"]),
        (("--mode", "cloud"), ["'cloud' is not one of 'local', 'remote'"]),
        (("--wait-max-workers", "0"), ["--wait-max-workers", "0 is not in the range x>=1"]),
        (
            ("--config-path", "missing_conf"),
            ["config directory 'missing_conf' does not exist", "omit --config-path"],
        ),
        (("--max-action-concurrency", "-1"), ["--max-action-concurrency"]),
        (("--copy-style", "some"), ["'some' is not one of"]),
        (("--local", "--queue", "gpu"), ["--queue only affects runs on a Flyte cluster", "drop --queue"]),
        (
            ("--local", "--label", "a=b", "--max-action-concurrency", "2"),
            ["--label, --max-action-concurrency only affect runs on a Flyte cluster"],
        ),
        (("--local", "--service-account", "sa"), ["--service-account only affects"]),
        (("--local", "--version", "v1"), ["--version only affects"]),
        (("--local", "--copy-style", "all"), ["--copy-style only affects"]),
        (("--local", "--debug"), ["--debug only affects"]),
        (("--fail-fast",), ["--fail-fast only applies to a sweep", "add --multirun, or drop --fail-fast"]),
        (
            ("--submit-max-workers", "4", "--abort-on-interrupt"),
            ["--submit-max-workers, --abort-on-interrupt only apply to a sweep"],
        ),
        (
            ("--multirun", "--local", "--fail-fast"),
            ["--fail-fast only acts on remote runs", "this sweep runs locally", "drop --fail-fast"],
        ),
        (
            ("--multirun", "--local", "--submit-max-workers", "2"),
            ["--submit-max-workers only acts on remote"],
        ),
        (
            ("--multirun", "--no-wait", "--fail-fast", "--abort-on-interrupt"),
            [
                "--fail-fast, --abort-on-interrupt act while the sweep waits",
                "drop --fail-fast and --abort-on-interrupt",
            ],
        ),
        (("--multirun", "--submit-max-workers", "0"), ["--submit-max-workers", "0 is not in the range x>=1"]),
        (("--detach",), ["--detach only applies to a sweep", "add --multirun, or drop --detach"]),
        (
            ("--multirun", "--local", "--detach"),
            ["--detach only acts on remote runs", "this sweep runs locally", "drop --detach"],
        ),
        (
            ("--multirun", "--max-concurrency", "4"),
            ["--max-concurrency limits the jobs a detached sweep's driver runs at once", "add --detach"],
        ),
        (
            ("--multirun", "--detach", "--max-concurrency", "0"),
            ["--max-concurrency", "0 is not in the range x>=1"],
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_conflicting_or_unsupported_options(project, args, fragments) -> None:
    assert_usage_error(hydra_run(*args, "--config-name", "main", *SCORE), *fragments)


def test_missing_script(project) -> None:
    result = hydra_run(*LOCAL, "nope.py", "score")
    assert_usage_error(
        result, "script 'nope.py' does not exist", str(project), "pass the path of the Python file"
    )


def test_script_that_is_a_directory(project) -> None:
    assert_usage_error(hydra_run(*LOCAL, "conf", "score"), "script 'conf' is a directory, not a Python file")


def test_missing_task(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "nope")
    assert_usage_error(
        result, "task 'nope' not found in fixture_tasks.py", "describe, explode, score, steps", "as TASK_NAME"
    )


def test_task_without_dictconfig_parameter(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "plain", "--x", "1")
    assert_usage_error(result, "task 'plain' has no DictConfig parameter", "x: int", "plain(cfg: DictConfig")


def test_missing_config_name(project) -> None:
    result = hydra_run("--local", "--config-path", "conf", "--config-name", "mian", *SCORE)
    assert_usage_error(result, "config 'mian'", "Cannot find primary config 'mian'")


def test_override_of_missing_key(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", "optimizer.nope=1")
    assert_usage_error(result, "optimizer.nope", "+optimizer.nope=1")


def test_malformed_override(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", "optimizer.lr=[1,")
    assert_usage_error(result, "optimizer.lr=[1,")


def test_hydra_override_passed_as_app_override(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", "hydra/sweeper=optuna")
    assert_usage_error(
        result, "'hydra/sweeper=optuna' overrides Hydra's own config", "--hydra-override hydra/sweeper"
    )


def test_app_override_passed_as_hydra_override(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--hydra-override", "optimizer.lr=1")
    assert_usage_error(
        result, "'optimizer.lr=1' is not in the hydra.* / hydra/* namespace", "--cfg optimizer.lr=1"
    )


def test_app_override_flag_follows_the_parameter_name(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py", "describe", "--label", "x", "--cfg", "optimizer=sgd")
    assert_usage_error(result, "No such option '--cfg'", "Did you mean '--config'?")


def test_missing_required_task_input(project) -> None:
    assert_usage_error(hydra_run(*LOCAL, "fixture_tasks.py", "describe"), "Missing option '--label'")


def test_task_input_of_the_wrong_type(project) -> None:
    assert_usage_error(hydra_run(*LOCAL, *SCORE, "--offset", "abc"), "'abc' is not a valid float")


def test_script_that_fails_to_import(project) -> None:
    result = hydra_run(*LOCAL, "broken_script.py", "score")
    assert_usage_error(
        result,
        "could not import script 'broken_script.py'",
        "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'",
        "imports cleanly",
        code=1,
    )


def test_verbose_shows_the_traceback(project) -> None:
    result = flyte("-v", "hydra", "run", *LOCAL, "broken_script.py", "score")
    assert result.exit_code == 1
    assert "Traceback" in result.output
    assert "could not import script 'broken_script.py'" in flat(result.output)


def test_run_without_a_script_is_a_usage_error_on_stderr(project) -> None:
    result = hydra_run()
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    text = flat(result.stderr)
    assert "Usage: flyte hydra run [OPTIONS] SCRIPT TASK_NAME" in text
    assert "Missing argument 'SCRIPT'" in text and "flyte hydra run train.py pipeline" in text


def test_a_script_without_a_task_name_is_a_usage_error_naming_its_tasks(project) -> None:
    result = hydra_run(*LOCAL, "fixture_tasks.py")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    text = flat(result.stderr)
    assert "Missing argument 'TASK_NAME'" in text
    assert "Tasks in fixture_tasks.py that take a DictConfig: describe, explode, score, steps" in text


def test_sweep_values_without_multirun(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", "training.epochs=1,2")
    assert_usage_error(result, "'training.epochs=1,2'", "--multirun")


def test_help_of_a_script_that_fails_to_import(project) -> None:
    result = hydra_run("broken_script.py", "--help")
    assert_usage_error(result, "could not import script 'broken_script.py'", code=1)


def test_sweep_with_an_invalid_job_runs_none_and_names_it(project) -> None:
    result = hydra_run("--multirun", *LOCAL, *SCORE, "--cfg", "+task_env.score.resources.cpu=1,lots,3")
    assert_usage_error(
        result,
        "1 of 3 jobs of the sweep is invalid, so nothing was submitted",
        "job 1 [+task_env.score.resources.cpu=lots]",
        "'lots' is not a Kubernetes quantity",
    )
    assert not list(project.glob("multirun/*/*/0")), "job 0 ran although job 1 is invalid"


def test_unknown_launcher_field_suggests_the_closest(project) -> None:
    result = hydra_run(*LOCAL, "--hydra-override", "hydra.launcher.wiat=false", *SCORE)
    assert_usage_error(
        result, "unknown launcher field hydra.launcher.wiat. Did you mean 'wait'?", "accepts: mode"
    )


def test_bad_launcher_mode_override(project) -> None:
    result = hydra_run(*LOCAL, "--hydra-override", "hydra.launcher.mode=bogus", *SCORE)
    assert_usage_error(result, "mode must be 'local' or 'remote', got 'bogus'")


def test_interval_without_a_sweeper(project) -> None:
    result = hydra_run("--multirun", *LOCAL, *SCORE, "--cfg", "optimizer.lr=interval(0.1,1)")
    assert_usage_error(result, "samples from an interval", "hydra/sweeper=optuna")


def test_dry_run_finds_the_same_invalid_job(project) -> None:
    result = hydra_run(
        "--multirun", "--dry-run", *LOCAL, *SCORE, "--cfg", "+task_env.score.resources.memory=1Gi,8GB"
    )
    assert_usage_error(result, "1 of 2 jobs", "job 1 [+task_env.score.resources.memory=8GB]")


@pytest.mark.parametrize(
    ("override", "hint"),
    [("optimizer.lrr=0.1", "Did you mean 'optimizer.lr'?"), ("optimizr=sgd", "Did you mean 'optimizer'?"),
     ("optimizer=sgdd", "Did you mean 'optimizer=sgd'?")],
)  # fmt: skip
def test_a_misspelled_override_gets_the_closest_name(project, override: str, hint: str) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", override)
    assert_usage_error(result, hint)


def test_a_misspelled_sweep_override_gets_the_closest_name(project) -> None:
    result = hydra_run(*LOCAL, "-m", *SCORE, "--cfg", "optimizer.lrr=0.1,0.2")
    assert_usage_error(result, "for the job [optimizer.lrr=0.1]", "Did you mean 'optimizer.lr'?")


def test_the_error_box_keeps_hydras_line_breaks(project) -> None:
    result = hydra_run(*LOCAL, *SCORE, "--cfg", "optimizer=sgdd")
    assert result.exit_code == 2, result.output
    lines = [line.strip("│ ") for line in result.stderr.splitlines()]
    assert "Available options in 'optimizer':" in lines, lines  # not run together with the options
    assert "adam" in lines and "sgd" in lines and "Config search path:" in lines, lines
