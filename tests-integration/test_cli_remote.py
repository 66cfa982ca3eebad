"""`flyte hydra run` in remote mode: the real `flyte` console script against the loopback control plane.

The same scenarios as test_sdk_remote.py, driven through the CLI as a subprocess. Every run is
executed for real by the control plane; the tests check what the CLI printed and exited with
against what reached (and came back from) the control plane. Results (the summary table, or the
JSON document with `flyte -of json`) are on stdout; the `Submitted ...` lines, progress and logs
on stderr.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane
from flyte_loopback.runs import primitive_values

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
FLYTE = Path(sys.executable).parent / "flyte"  # the venv's console script, as a user would run it

#: The small-task project (hydra_tasks.py + conf/), copied into the test's working directory.
SMALL = ("--config-path", "conf", "--config-name", "training")

_SUBMITTED = re.compile(r"^Submitted (?P<name>\S+) \((?P<overrides>.*)\): (?P<url>\S+)$")
_BOX = re.compile(r"[│╭╮╰╯─]+")


def flat(text: str) -> str:
    """Text with rich's boxes and line wrapping removed, for matching whole sentences."""
    return " ".join(_BOX.sub(" ", text).split())


@dataclass(frozen=True)
class Submitted:
    """One `Submitted <name> (<overrides>): <url>` line."""

    line: str
    name: str
    overrides: str
    url: str


@dataclass(frozen=True)
class Job:
    """One row of the summary table: job number, overrides, phase, value or error (`body`), URL."""

    line: str
    num: int
    overrides: str
    body: str
    phase: str = ""
    url: str = ""
    best: bool = False


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def submitted(self) -> list[Submitted]:
        """The `Submitted` lines: progress, so on stderr."""
        return [
            Submitted(m.group(0), *m.group("name", "overrides", "url"))
            for m in _matches(self.stderr.splitlines(), _SUBMITTED)
        ]

    @property
    def jobs(self) -> list[Job]:
        """The rows of the summary table on stdout."""
        lines = self.lines
        header = next(
            (
                i
                for i, line in enumerate(lines)
                if line.startswith("│") and line.split("│")[1].strip() == "job"
            ),
            None,
        )
        if header is None:
            return []
        names = [cell.strip() for cell in lines[header].strip("│").split("│")]
        jobs = []
        for line in lines[header + 2 :]:
            if not line.startswith("│"):
                break
            row = dict(zip(names, (cell.strip() for cell in line.strip("│").split("│")), strict=True))
            num = row["job"].replace("★", "").strip()
            jobs.append(
                Job(line, int(num), row["overrides"], row["value / error"], row["phase"], row.get("url", ""),
                    "★" in row["job"])
            )  # fmt: skip
        return jobs

    @property
    def value(self) -> float:
        """A single run's value, from its one-row summary."""
        (job,) = self.jobs
        return float(job.body)


def _matches(lines: list[str], pattern: re.Pattern[str]) -> list[re.Match[str]]:
    return [m for m in map(pattern.match, lines) if m]


@dataclass
class Cli:
    """Runs `flyte hydra run ...` in a project directory against the loopback control plane."""

    cp: ControlPlane
    project: Path
    examples: Path

    def env(self) -> dict[str, str]:
        # Wide output, so rich neither wraps log lines nor the error box.
        return {**self.cp.env(), "COLUMNS": "400"}

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> CliResult:
        return self.run_flyte("hydra", "run", *args, cwd=cwd, env=env, timeout=timeout)

    def run_flyte(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> CliResult:
        """`flyte ARGS` (root options first, e.g. `-of json hydra status SWEEP`)."""
        start = time.monotonic()
        proc = subprocess.run(
            [str(FLYTE), *args],
            cwd=cwd or self.project,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)

    def output_of(self, run_name: str) -> float:
        """The value the task of run `run_name` really returned (its outputs.pb on the control plane)."""
        outputs = self.cp.runs[run_name].root.outputs()
        assert outputs is not None, f"run {run_name} wrote no outputs"
        (value,) = primitive_values(outputs).values()
        return value


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hydra_tasks.py, cli_log_tasks.py and conf/, as a user's project directory."""
    root = tmp_path_factory.mktemp("cli-project")
    for name in ("hydra_tasks.py", "cli_log_tasks.py"):
        shutil.copy(HERE / name, root / name)
    shutil.copytree(HERE / "conf", root / "conf")
    return root


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/ (train.py and conf/), without earlier runs' outputs."""
    root = tmp_path_factory.mktemp("cli-examples") / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("outputs", "multirun", "__pycache__"))
    return root


@pytest.fixture
def cli(control_plane: ControlPlane, project_dir: Path, examples_dir: Path) -> Iterator[Cli]:
    """A `Cli` on a control plane with no records or faults; unfinished runs are aborted afterwards."""
    control_plane.reset()
    yield Cli(control_plane, project_dir, examples_dir)
    control_plane.reset()


def test_single_run_prints_its_url_then_the_task_value(cli: Cli) -> None:
    result = cli.run(*SMALL, "hydra_tasks.py", "objective", "--cfg", "optimizer.lr=0.5", "--offset", "1.0")
    assert result.returncode == 0, result.output
    (sub,) = result.submitted
    assert sub.overrides == "optimizer.lr=0.5"
    assert sub.url.startswith(cli.cp.endpoint + "/") and sub.url.endswith(f"/runs/{sub.name}")
    assert [r.name for r in cli.cp.requests.created_runs()] == [sub.name]
    assert cli.cp.runs[sub.name].phase == "SUCCEEDED"

    (job,) = result.jobs  # the summary: stdout holds nothing else
    assert (job.phase, job.url) == ("SUCCEEDED", sub.url)
    assert result.value == cli.output_of(sub.name) == pytest.approx(0.5 * 2 + 1.0)
    assert sub.line not in result.stdout and "[flyte]" not in result.stdout


def test_grid_sweep_submits_every_job_before_waiting_and_prints_values_in_job_order(cli: Cli) -> None:
    result = cli.run(
        *SMALL,
        "--multirun",
        "hydra_tasks.py",
        "objective",
        "--cfg",
        "model=small,large",
        "--cfg",
        "optimizer.lr=0.25,0.5",
    )
    assert result.returncode == 0, result.output

    creates = cli.cp.requests.created_runs()
    watches = cli.cp.requests.of("RunService/WatchActionDetails")
    assert len(creates) == 4 and watches
    assert max(c.arrived_at for c in creates) < min(w.arrived_at for w in watches)

    expected = ["model=small optimizer.lr=0.25", "model=small optimizer.lr=0.5"]
    expected += ["model=large optimizer.lr=0.25", "model=large optimizer.lr=0.5"]
    jobs = result.jobs
    assert [(j.num, j.overrides) for j in jobs] == list(enumerate(expected))
    assert [float(j.body) for j in jobs] == pytest.approx([0.5, 1.0, 2.5, 5.0])

    by_overrides = {s.overrides: s for s in result.submitted}
    assert sorted(by_overrides) == sorted(expected)
    assert {s.name for s in by_overrides.values()} == {c.name for c in creates}
    for job in jobs:
        assert float(job.body) == cli.output_of(by_overrides[job.overrides].name)
        assert job.url == by_overrides[job.overrides].url
        # Each value printed once: in the summary (no `job N` line, no log line repeats it).
        assert result.stdout.count(f"│ {job.body} ") == 1 and f" {job.body}" not in result.stderr
    assert [j.best for j in jobs] == [True, False, False, False]  # the lowest: no sweeper direction
    assert "RunResult(" not in result.stderr and "finished:" not in result.stderr


def test_output_format_json_prints_one_document_for_run_and_for_status(cli: Cli) -> None:
    result = cli.run_flyte(
        "-of", "json", "hydra", "run", *SMALL, "--multirun", "hydra_tasks.py", "objective",
        "--cfg", "optimizer.lr=0.25,0.5", "--offset", "0.123456789",
    )  # fmt: skip
    assert result.returncode == 0, result.output
    document = json.loads(result.stdout)  # the whole of stdout: one JSON document
    by_name = {s.name: s for s in result.submitted}
    assert [(j["job"], j["phase"]) for j in document["jobs"]] == [(0, "SUCCEEDED"), (1, "SUCCEEDED")]
    for job in document["jobs"]:  # full precision, as the control plane has it
        assert job["value"] == cli.output_of(job["run_name"]) and job["url"] == by_name[job["run_name"]].url
    assert document["jobs"][0]["value"] == pytest.approx(0.25 * 2 + 0.123456789)
    assert document["best_job"] == 0 and document["mode"] == "remote"
    manifest = json.loads(Path(document["manifest"]).read_text())
    assert document["sweep_id"] == manifest["sweep_id"]
    assert [j["value"] for j in manifest["jobs"]] == [j["value"] for j in document["jobs"]]

    status = cli.run_flyte("-of", "json", "hydra", "status", document["sweep_id"])
    assert status.returncode == 0, status.output
    again = json.loads(status.stdout)
    assert [(j["job"], j["phase"], j["value"]) for j in again["jobs"]] == [
        (j["job"], j["phase"], j["value"]) for j in document["jobs"]
    ]
    assert again["manifest"] == document["manifest"]
    # One schema for a single run, a sweep and status (README, "What a run or sweep prints").
    single = cli.run_flyte("-of", "json", "hydra", "run", *SMALL, "hydra_tasks.py", "objective")
    assert single.returncode == 0, single.output
    one = json.loads(single.stdout)
    keys = [
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
    ]
    assert list(one) == list(document) == list(again) == keys
    where = (cli.cp.project, cli.cp.domain)
    assert (one["project"], one["domain"]) == (document["project"], document["domain"]) == where
    assert (one["sweep_id"], one["manifest"], one["task"], one["mode"]) == (
        None,
        None,
        "hydra_it.objective",
        "remote",
    )


def test_no_wait_returns_once_submitted_with_the_urls(cli: Cli) -> None:
    # The runs never finish: a CLI that waited for them would hit the timeout.
    cli.cp.faults.hang_runs(lambda target: target.action_name == "a0")
    result = cli.run(
        *SMALL,
        "--multirun",
        "--no-wait",
        "hydra_tasks.py",
        "objective",
        "--cfg",
        "optimizer.lr=1,2",
        timeout=60,
    )
    assert result.returncode == 0, result.output
    assert result.seconds < 30, "submitting two runs does not take long"

    submitted = result.submitted
    assert sorted(s.overrides for s in submitted) == ["optimizer.lr=1", "optimizer.lr=2"]
    assert {s.name for s in submitted} == {c.name for c in cli.cp.requests.created_runs()}
    for sub in submitted:
        assert sub.url.startswith(cli.cp.endpoint + "/") and sub.url.endswith(f"/runs/{sub.name}")
        assert cli.cp.wait_for_phase(sub.name, ("RUNNING",), timeout=10).phase == "RUNNING"
    assert not cli.cp.requests.of("RunService/WatchActionDetails")
    assert [(j.phase, j.body) for j in result.jobs] == [("SUBMITTED", ""), ("SUBMITTED", "")]
    assert sorted(j.url for j in result.jobs) == sorted(s.url for s in submitted)


@pytest.mark.parametrize("sweeper", ["optuna", "optuna_async"])
def test_optuna_sweep_runs_every_trial_remotely(cli: Cli, sweeper: str) -> None:
    result = cli.run(
        *SMALL,
        "--multirun",
        "--hydra-override",
        f"hydra/sweeper={sweeper}",
        "--hydra-override",
        "hydra.sweeper.n_trials=3",
        "--hydra-override",
        "hydra.sweeper.n_jobs=3",
        "hydra_tasks.py",
        "objective",
        "--cfg",
        "optimizer.lr=interval(0.01,1.0)",
    )
    assert result.returncode == 0, result.output
    assert len(cli.cp.requests.created_runs()) == 3

    jobs = result.jobs
    assert [j.num for j in jobs] == [0, 1, 2]
    by_overrides = {s.overrides: s.name for s in result.submitted}
    for job in jobs:
        key, _, lr = job.overrides.partition("=")
        assert key == "optimizer.lr" and 0.01 <= float(lr) <= 1.0
        assert float(job.body) == pytest.approx(float(lr) * 2, rel=1e-5)  # model=small has depth 2 (rounded)
        assert float(job.body) == pytest.approx(cli.output_of(by_overrides[job.overrides]), rel=1e-5)
    assert sum(j.best for j in jobs) == 1 and "the sweeper minimizes" in result.stdout


def test_task_env_for_the_entry_task_reaches_create_run(cli: Cli) -> None:
    big = cli.run(*SMALL, "hydra_tasks.py", "objective", "--cfg", "+task_env=big")
    imaged = cli.run(*SMALL, "hydra_tasks.py", "objective", "--cfg", "+task_env=image")
    assert big.returncode == 0, big.output
    assert imaged.returncode == 0, imaged.output

    big_run = cli.cp.requests.created_run(big.submitted[0].name)
    assert big_run.resources["requests"]["cpu"] == "3"
    assert big_run.resources["requests"]["memory"] == "3Gi"
    image_run = cli.cp.requests.created_run(imaged.submitted[0].name)
    assert image_run.image == "ghcr.io/acme/prebuilt:7"
    assert image_run.task_spec.task_template.HasField("k8s_pod")
    assert image_run.resources["requests"]["cpu"] == "2"
    for result in (big, imaged):
        assert result.value == cli.output_of(result.submitted[0].name) == pytest.approx(0.002)


def test_task_env_for_a_child_task_of_the_example_pipeline(cli: Cli) -> None:
    result = cli.run(
        "--config-path",
        "conf",
        "--config-name",
        "training",
        "train.py",
        "pipeline",
        "--dataset",
        "digits",
        "--cfg",
        "+task_env=a100",
        "--cfg",
        "training.epochs=3",
        cwd=cli.examples,
    )
    assert result.returncode == 0, result.output
    (sub,) = result.submitted
    assert sub.overrides == "+task_env=a100 training.epochs=3"
    assert 0.0 < result.value < 5.0
    assert result.value == pytest.approx(cli.output_of(sub.name), rel=1e-5)  # rounded for reading

    root = cli.cp.requests.created_run(sub.name)
    assert root.resources["requests"]["cpu"] == "2" and root.resources["requests"]["memory"] == "8Gi"
    actions = cli.cp.runs[sub.name].actions
    by_task = {a.task_name.rsplit(".", 1)[-1]: a for a in actions.values() if not a.is_root}
    assert set(by_task) == {"preprocess", "train_model"}
    assert by_task["train_model"].resources["requests"] == {"cpu": "12", "memory": "85Gi", "gpu": "1"}
    assert by_task["preprocess"].resources["requests"].get("cpu") != "12", "only train_model is overridden"


RUN_FLAGS = ("--service-account", "trainer", "--env", "STAGE=it", "--label", "team=ml")


def test_run_flags_reach_create_run(cli: Cli) -> None:
    result = cli.run(*SMALL, "--name", "my-run", *RUN_FLAGS, "hydra_tasks.py", "objective")
    assert result.returncode == 0, result.output
    assert [s.name for s in result.submitted] == ["my-run"]
    (created,) = cli.cp.requests.created_runs()
    assert created.name == "my-run"
    assert created.env_vars["STAGE"] == "it"
    assert created.labels["team"] == "ml"
    assert created.run_spec.security_context.run_as.k8s_service_account == "trainer"
    assert cli.cp.runs["my-run"].phase == "SUCCEEDED"
    assert result.value == cli.output_of("my-run")


def test_run_flags_reach_every_job_of_a_sweep_with_numbered_names(cli: Cli) -> None:
    result = cli.run(
        *SMALL,
        "--multirun",
        "--name",
        "sweep-x",
        *RUN_FLAGS,
        "hydra_tasks.py",
        "objective",
        "--cfg",
        "optimizer.lr=1,2,3",
    )
    assert result.returncode == 0, result.output
    created = cli.cp.requests.created_runs()
    assert sorted(c.name for c in created) == ["sweep-x-0", "sweep-x-1", "sweep-x-2"]
    for run in created:
        assert run.env_vars["STAGE"] == "it"
        assert run.labels["team"] == "ml"
        assert run.run_spec.security_context.run_as.k8s_service_account == "trainer"
    names = {s.overrides: s.name for s in result.submitted}
    assert names == {
        "optimizer.lr=1": "sweep-x-0",
        "optimizer.lr=2": "sweep-x-1",
        "optimizer.lr=3": "sweep-x-2",
    }
    assert [(j.num, float(j.body)) for j in result.jobs] == [(0, 2.0), (1, 4.0), (2, 6.0)]


def test_a_failing_job_exits_1_with_its_url_and_message_and_the_other_job_is_reported(cli: Cli) -> None:
    result = cli.run(*SMALL, "--multirun", "hydra_tasks.py", "fails_for_sgd", "--cfg", "optimizer=adam,sgd")
    assert result.returncode == 1, result.output
    subs = {s.overrides: s for s in result.submitted}
    ok, failed = subs["optimizer=adam"], subs["optimizer=sgd"]
    assert cli.cp.runs[ok.name].phase == "SUCCEEDED"
    assert cli.cp.runs[failed.name].phase == "FAILED"

    ok_job, failed_job = result.jobs
    assert (ok_job.num, ok_job.overrides) == (0, "optimizer=adam")
    assert float(ok_job.body) == cli.output_of(ok.name) == pytest.approx(0.001)
    assert (failed_job.num, failed_job.overrides, failed_job.phase) == (1, "optimizer=sgd", "FAILED")
    assert failed_job.url == failed.url
    assert "loss exploded with lr=0.1" in failed_job.body  # its error's first line
    assert "1 of 2 jobs failed." in flat(result.stderr)
    assert "Traceback" not in result.stdout + result.stderr


def test_follow_streams_the_task_logs_then_prints_the_value(cli: Cli) -> None:
    result = cli.run(*SMALL, "--follow", "cli_log_tasks.py", "chatty", "--cfg", "optimizer.lr=0.25")
    assert result.returncode == 0, result.output
    (sub,) = result.submitted
    assert cli.cp.requests.of("DataProxyService/TailLogs")

    text = flat(result.stderr)  # the logs are not results: stderr
    positions = [text.find(f"cli-follow line {i} of 3 (lr=0.25)") for i in (1, 2, 3)]
    assert all(p >= 0 for p in positions), result.output
    assert positions == sorted(positions)
    assert text.find(sub.line) < positions[0]
    assert "cli-follow line" not in result.stdout
    assert [j.body for j in result.jobs] == ["1.0"]
    assert result.value == cli.output_of(sub.name)


def test_no_endpoint_configured_exits_1_and_says_so(cli: Cli, tmp_path: Path) -> None:
    env = cli.env()
    for key in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "FLYTE_API_KEY"):
        env.pop(key, None)
    env["HOME"] = str(tmp_path / "empty-home")
    (tmp_path / "empty-home").mkdir()

    result = cli.run(*SMALL, "hydra_tasks.py", "objective", env=env)
    assert result.returncode == 1, result.output
    assert "no Flyte endpoint configured" in flat(result.stdout + result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert not result.submitted
    assert not cli.cp.requests.of("RunService/CreateRun")
