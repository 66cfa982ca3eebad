"""What the CLI hands to hydra_flyte and to Flyte's initialisation, for every option.

These tests replace what the CLI calls in core (`hydra_flyte.integration.run_with_settings` and
`sweep_with_settings`, hydra_run/hydra_sweep with the settings the CLI built) and the CLI's Flyte
initialisation with recorders (named as such: `RecordingCore`), because what they check is the CLI's mapping of
flags to calls, including remote submissions that need a control plane. The real local path is
covered in test_run_local.py; the real remote path by the integration suite.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from cli_helpers import flat, flyte, hydra_run, single_value

import flyte_hydra_cli._flyte_private as fp
import hydra_flyte
from hydra_flyte import RunResult, integration
from hydra_flyte.settings_schema import DEFAULTS, LaunchSettings, sdk_settings
from hydra_flyte.state.output import results_stream

SCORE = ("fixture_tasks.py", "score")
CONF = ("--config-path", "conf", "--config-name", "main")


@dataclass
class FakeRun:
    """Stands in for flyte.remote.Run in --no-wait and --follow paths."""

    url: str = "http://flyte.example/runs/r1"
    name: str = "r1"
    phase: str = "SUCCEEDED"
    calls: list[str] = field(default_factory=list)

    def show_logs(self, **kwargs: Any) -> None:
        self.calls.append("show_logs")
        print("LOG: training...")

    def wait(self, **kwargs: Any) -> None:
        self.calls.append("wait")

    def outputs(self) -> tuple[float]:
        return (0.25,)


def _flat(
    entry: str, task: Any, settings: LaunchSettings, task_kwargs: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """One call as hydra_run/hydra_sweep would take it: the entry point's settings as keywords, the task inputs."""
    values = {s.name: getattr(settings, s.name) for s in sdk_settings(entry)}
    return {"task": task.short_name, **kwargs, **values, **task_kwargs}


@dataclass
class RecordingCore:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    inits: list[dict[str, Any]] = field(default_factory=list)
    run: FakeRun = field(default_factory=FakeRun)

    def hydra_run(
        self, task: Any, *, settings: LaunchSettings, task_kwargs: dict[str, Any], **kwargs: Any
    ) -> Any:
        self.calls.append(("hydra_run", _flat("hydra_run", task, settings, task_kwargs, **kwargs)))
        if settings.mode == "remote" and not settings.wait:
            return self.run
        return RunResult([1.5], url="http://flyte.example/runs/r1")

    def hydra_sweep(
        self, task: Any, *, settings: LaunchSettings, task_kwargs: dict[str, Any], **kwargs: Any
    ) -> Any:
        self.calls.append(("hydra_sweep", _flat("hydra_sweep", task, settings, task_kwargs, **kwargs)))
        if settings.mode == "remote" and not settings.wait:
            return [self.run, self.run]
        return [RunResult([0.5]), RunResult([0.75])]

    def initialize_config(self, ctx: Any, **kwargs: Any) -> None:
        self.inits.append(kwargs)

    @property
    def last(self) -> dict[str, Any]:
        return self.calls[-1][1]


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> RecordingCore:
    recorder = RecordingCore()
    monkeypatch.setattr(integration, "run_with_settings", recorder.hydra_run)
    monkeypatch.setattr(integration, "sweep_with_settings", recorder.hydra_sweep)
    monkeypatch.setattr(fp, "initialize_config", recorder.initialize_config)
    return recorder


def test_defaults_are_a_remote_waited_run(project, core) -> None:
    result = hydra_run(*CONF, *SCORE)
    assert result.exit_code == 0, result.output
    name, call = core.calls[-1]
    assert name == "hydra_run"
    assert call == {
        "task": "score",
        "config_path": str(project / "conf"),
        "config_name": "main",
        "overrides": [],
        "mode": "remote",
        "wait": True,
        "wait_max_workers": 32,
        "run_options": {"copy_style": "loaded_modules"},
        "task_env_key": "task_env",
        "dry_run": False,
        "reconnect_timeout_seconds": 600.0,
        "capacity_timeout_seconds": 86400.0,
        "summary": "table",
        "offset": 0.0,
    }
    assert result.stdout == ""  # hydra_flyte prints the summary (replaced here): the CLI adds nothing


def test_reconnect_timeout_is_forwarded(project, core) -> None:
    result = hydra_run(*CONF, "--reconnect-timeout", "2.5", *SCORE)
    assert result.exit_code == 0, result.output
    assert core.calls[-1][1]["reconnect_timeout_seconds"] == 2.5
    bad = hydra_run(*CONF, "--reconnect-timeout", "-1", *SCORE)
    assert bad.exit_code == 2 and "--reconnect-timeout" in bad.output


def test_every_run_option_is_forwarded(project, core) -> None:
    result = hydra_run(
        *CONF,
        "--name",
        "exp",
        "--service-account",
        "sa",
        "--raw-data-path",
        "s3://b/raw",
        "--copy-style",
        "all",
        "--version",
        "v7",
        "--debug",
        "--env",
        "A=1",
        "-e",
        "B=x=y",
        "--label",
        "team=ml",
        "--label",
        "tier=gold",
        "--queue",
        "gpu",
        "--max-action-concurrency",
        "4",
        *SCORE,
    )
    assert result.exit_code == 0, result.output
    assert core.last["run_options"] == {
        "copy_style": "all",
        "version": "v7",
        "name": "exp",
        "raw_data_path": "s3://b/raw",
        "service_account": "sa",
        "queue": "gpu",
        "max_action_concurrency": 4,
        "debug": True,
        "env_vars": {"A": "1", "B": "x=y"},
        "labels": {"team": "ml", "tier": "gold"},
    }


def test_multirun_forwards_options_to_every_job(project, core) -> None:
    # hydra_sweep applies run_options to each job (and numbers --name per job: exp-0, exp-1, ...).
    result = hydra_run(
        *CONF,
        "-m",
        "--name",
        "exp",
        "--label",
        "team=ml",
        "--env",
        "A=1",
        *SCORE,
        "--cfg",
        "training.epochs=1,2",
    )
    assert result.exit_code == 0, result.output
    name, call = core.calls[-1]
    assert name == "hydra_sweep"
    assert call["run_options"]["name"] == "exp"
    assert call["run_options"]["labels"] == {"team": "ml"}
    assert call["run_options"]["env_vars"] == {"A": "1"}
    assert call["overrides"] == ["training.epochs=1,2"]


def test_init_options_reach_flyte_initialisation(project, core) -> None:
    result = hydra_run(
        *CONF,
        "-p",
        "proj",
        "-d",
        "dev",
        "--root-dir",
        ".",
        "--image",
        "ghcr.io/x/y:1",
        "--image",
        "gpu=ghcr.io/x/gpu:1",
        "--no-sync-local-sys-paths",
        *SCORE,
    )
    assert result.exit_code == 0, result.output
    assert core.inits[-1] == {
        "project": "proj",
        "domain": "dev",
        "root_dir": ".",
        "images": ("ghcr.io/x/y:1", "gpu=ghcr.io/x/gpu:1"),
        "sync_local_sys_paths": False,
    }


def test_wait_options(project, core) -> None:
    assert hydra_run(*CONF, "--wait-max-workers", "64", *SCORE).exit_code == 0
    assert core.last["wait"] is True and core.last["wait_max_workers"] == 64
    assert hydra_run(*CONF, "--mode", "remote", "--no-wait", *SCORE).exit_code == 0
    assert core.last["wait"] is False and core.last["mode"] == "remote"


def test_no_wait_prints_only_what_core_printed_at_submission(project, core) -> None:
    result = hydra_run(*CONF, "--no-wait", "-m", *SCORE, "--cfg", "training.epochs=1,2")
    assert result.exit_code == 0, result.output
    assert "job " not in result.stdout


def test_task_env_key_and_overrides_order(project, core) -> None:
    result = hydra_run(
        *CONF,
        "--task-env-key",
        "task_environment",
        "--hydra-override",
        "hydra.job.name=a",
        *SCORE,
        "--cfg",
        "optimizer=sgd",
        "--hydra-override",
        "hydra.run.dir=out",
        "--cfg=training.epochs=3",
        "--offset",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert core.last["task_env_key"] == "task_environment"
    assert core.last["overrides"] == [
        "hydra.job.name=a",
        "hydra.run.dir=out",
        "optimizer=sgd",
        "training.epochs=3",
    ]
    assert core.last["offset"] == 2.0


def test_tracked_is_local_with_reporting(project, core) -> None:
    result = hydra_run(*CONF, "--tracked", "--tracked-strict", "--label", "a=b", *SCORE)
    assert result.exit_code == 0, result.output
    assert core.last["mode"] == "local"
    assert core.last["run_options"]["tracked"] is True
    assert core.last["run_options"]["tracked_strict"] is True
    assert core.last["run_options"]["labels"] == {"a": "b"}


def test_a_sweep_leaves_its_one_summary_to_core(project, core) -> None:
    # Before, the CLI printed `job N [...]: value` lines after core's table: every value twice.
    result = hydra_run(*CONF, "-m", *SCORE, "--cfg", "training.epochs=1,2")
    assert result.exit_code == 0, result.output
    assert core.last["summary"] == "table"
    assert result.stdout == ""


@pytest.mark.parametrize("fmt", ["json", "json-raw", "table-simple"])
def test_flyte_output_format_is_the_summary_format(project, core, fmt) -> None:
    result = flyte("-of", fmt, "hydra", "run", *CONF, "-m", *SCORE, "--cfg", "training.epochs=1,2")
    assert result.exit_code == 0, result.output
    assert core.last["summary"] == fmt
    single = flyte("--output-format", fmt, "hydra", "run", *CONF, *SCORE)
    assert single.exit_code == 0, single.output
    assert core.last["summary"] == fmt


def test_follow_streams_logs_then_prints_the_value(project, core) -> None:
    result = hydra_run(*CONF, "--follow", *SCORE)
    assert result.exit_code == 0, result.output
    assert core.last["wait"] is False  # submitted without waiting, then followed
    assert core.run.calls == ["show_logs", "wait"]
    assert core.last["summary"] == "none"  # the CLI prints the summary once the run has ended
    assert "LOG: training..." in result.stderr and "LOG" not in result.stdout  # logs are not results
    assert single_value(result.stdout) == "0.25"


def test_follow_of_a_failed_run_exits_1(project, core) -> None:
    core.run.phase = "FAILED"
    result = hydra_run(*CONF, "-f", *SCORE)
    assert result.exit_code == 1
    assert "ended in phase FAILED" in flat(result.output)


def test_sweep_defaults_leave_submission_concurrency_to_core(project, core) -> None:
    result = hydra_run(*CONF, "-m", *SCORE, "--cfg", "training.epochs=1,2")
    assert result.exit_code == 0, result.output
    call = core.last
    assert (call["dry_run"], call["fail_fast"], call["abort_on_interrupt"]) == (False, False, False)
    assert call["submit_max_workers"] == DEFAULTS["submit_max_workers"]  # core's own default applies


def test_sweep_flags_are_forwarded_to_hydra_sweep(project, core) -> None:
    result = hydra_run(
        *CONF,
        "-m",
        "--submit-max-workers",
        "3",
        "--fail-fast",
        "--abort-on-interrupt",
        *SCORE,
        "--cfg",
        "training.epochs=1,2",
    )
    assert result.exit_code == 0, result.output
    name, call = core.calls[-1]
    assert name == "hydra_sweep"
    assert call["submit_max_workers"] == 3
    assert call["fail_fast"] is True
    assert call["abort_on_interrupt"] is True
    assert call["dry_run"] is False


def test_dry_run_of_a_single_run_prints_only_what_core_printed(project, core, monkeypatch) -> None:
    plan = hydra_flyte.DryRunPlan(
        job_num=None, overrides=("optimizer.lr=0.5",), task="fixture.score", run_name=None, mode="remote",
        task_env={"cpu": "2"},
    )  # fmt: skip
    seen: list[dict[str, Any]] = []

    def planning_run(task: Any, *, settings: LaunchSettings, **kwargs: Any) -> Any:
        seen.append(settings)
        print(plan.describe(), file=results_stream())  # what core prints for a dry run
        return plan

    monkeypatch.setattr(integration, "run_with_settings", planning_run)
    result = hydra_run(*CONF, "--dry-run", "--follow", *SCORE, "--cfg", "optimizer.lr=0.5")
    assert result.exit_code == 0, result.output
    assert seen[-1].dry_run is True
    assert result.stdout.splitlines() == [plan.describe()]
    assert "optimizer.lr=0.5" in plan.describe() and "cpu=2" in plan.describe()
    assert core.run.calls == []  # --follow followed nothing: nothing was submitted


def test_dry_run_of_a_sweep_prints_only_what_core_printed(project, core, monkeypatch) -> None:
    def planning_sweep(task: Any, *, settings: LaunchSettings, **kwargs: Any) -> Any:
        assert settings.dry_run is True
        print("job 0 [training.epochs=1]: planned", file=results_stream())
        return [hydra_flyte.DryRunPlan(0, ("training.epochs=1",), "fixture.score", "x-0", "remote", {})]

    monkeypatch.setattr(integration, "sweep_with_settings", planning_sweep)
    result = hydra_run(*CONF, "-m", "--dry-run", *SCORE, "--cfg", "training.epochs=1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["job 0 [training.epochs=1]: planned"]


@pytest.mark.parametrize("marked", [False, True], ids=["plain", "reported-by-core"])
def test_ctrl_c_exits_130_without_a_traceback(project, core, monkeypatch, marked) -> None:
    def interrupted(task: Any, **kwargs: Any) -> Any:
        interrupt = KeyboardInterrupt()
        if marked:  # what hydra_flyte does after printing its own message (manifest, how to reattach)
            print("Interrupted: stopped waiting; the submitted runs go on.", file=sys.stderr)
            interrupt.manifest_path = "multirun/x/flyte-sweep.json"  # type: ignore[attr-defined]
            interrupt.aborted = []  # type: ignore[attr-defined]
        raise interrupt

    monkeypatch.setattr(integration, "sweep_with_settings", interrupted)
    result = hydra_run(*CONF, "-m", *SCORE, "--cfg", "training.epochs=1,2")
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    if marked:
        assert lines == ["Interrupted: stopped waiting; the submitted runs go on."]
    else:
        assert lines == ["Interrupted."]
