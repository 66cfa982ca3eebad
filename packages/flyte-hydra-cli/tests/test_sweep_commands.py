"""`flyte hydra status` and `flyte hydra rerun`: manifests, exit statuses, output, Ctrl-C.

Manifests here are real ones, written by hydra_flyte's `Manifest`. Where a test needs a control
plane's answer, hydra_flyte.sweep_status/rerun_failed are replaced by recorders (`FakeSweeps`)
that return the manifest in the phases the test chose; the real remote path (the loopback
control plane) is the integration suite's. Without replacements, the real functions run and stop
at the missing endpoint.
"""

from __future__ import annotations

import _thread
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import flat, flyte, summary_rows

import flyte_hydra_cli._flyte_private as fp
import flyte_hydra_cli._sweeps as sweeps_cli
import hydra_flyte
from hydra_flyte import Manifest

TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "NOT_SUBMITTED"}


@pytest.fixture(autouse=True)
def _own_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweep ids are indexed under the cache directory: keep it inside the test's HOME."""
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def write_manifest(directory: Path, phases: list[str], *, sweep_id: str = "hf-test0001") -> Manifest:
    """A manifest for a sweep of len(phases) jobs, job N in phases[N]."""
    manifest = Manifest.create(
        directory, sweep_id=sweep_id, task="fixture.score", run_options={"project": "proj", "domain": "dev"}
    )
    manifest.plan((n, [f"optimizer.lr={n}"], f"exp-{n}") for n in range(len(phases)))
    for n, phase in enumerate(phases):
        set_phase(manifest, n, phase)
    manifest.save()
    return manifest


def set_phase(manifest: Manifest, num: int, phase: str) -> None:
    if phase in ("PLANNED", "NOT_SUBMITTED", "SUBMIT_FAILED"):
        if phase == "NOT_SUBMITTED":
            manifest.finished(num, phase=phase, error="never submitted (the sweep stopped first)")
        elif phase == "SUBMIT_FAILED":
            manifest.finished(num, phase=phase, error="PERMISSION_DENIED: not allowed")
        return
    record = manifest.jobs[num]
    name = record.run_name or f"exp-{num}"
    manifest.submitted(num, run_name=name, url=record.url or f"http://cp.example/runs/{name}")
    if phase == "SUCCEEDED":
        manifest.finished(num, phase=phase, value=float(num))
    elif phase in TERMINAL:
        manifest.finished(num, phase=phase, error=f"job {num} went {phase.lower()}")
    else:
        manifest.phase_seen(num, phase)


def status(*args: str) -> Any:
    return flyte("hydra", "status", *args)


def rerun(*args: str) -> Any:
    return flyte("hydra", "rerun", *args)


@dataclass
class FakeSweeps:
    """Records calls to sweep_status/rerun_failed and answers with the manifest on disk."""

    after_status: dict[int, str] = field(default_factory=dict)  # phases the control plane reports
    after_rerun: dict[int, str] = field(default_factory=dict)  # phases of the rerun jobs
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    inits: list[tuple[Any, Any]] = field(default_factory=list)

    def sweep_status(self, sweep: Any, **kwargs: Any) -> Manifest:
        self.calls.append(("sweep_status", {"sweep": str(sweep), **kwargs}))
        manifest = hydra_flyte.load_manifest(sweep)
        for num, phase in self.after_status.items():
            set_phase(manifest, num, phase)
        manifest.save()
        return manifest

    def rerun_failed(self, sweep: Any, **kwargs: Any) -> Manifest:
        self.calls.append(("rerun_failed", {"sweep": str(sweep), **kwargs}))
        manifest = hydra_flyte.load_manifest(sweep)
        for record in manifest.failed():
            print(
                f"Resubmitted job {record.job} ({' '.join(record.overrides)}): http://cp.example/r{record.job}"
            )
            manifest.resubmitted(
                record.job, run_name=f"{record.run_name}-r1", url=f"http://cp.example/r{record.job}"
            )
            if kwargs["wait"]:
                set_phase(manifest, record.job, self.after_rerun.get(record.job, "SUCCEEDED"))
        manifest.save()
        return manifest

    def initialize_config(self, ctx: Any, project: Any, domain: Any, *args: Any, **kwargs: Any) -> None:
        self.inits.append((project, domain))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSweeps:
    recorder = FakeSweeps()
    monkeypatch.setattr(hydra_flyte, "sweep_status", recorder.sweep_status)
    monkeypatch.setattr(hydra_flyte, "rerun_failed", recorder.rerun_failed)
    monkeypatch.setattr(fp, "initialize_config", recorder.initialize_config)
    return recorder


# ----------------------------------------------------------------------------------------------
# help and the lazy entry point
# ----------------------------------------------------------------------------------------------
def test_group_help_lists_status_and_rerun() -> None:
    result = flyte("hydra", "--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "status Show the phase and result of every job of a remote sweep" in text
    assert "rerun Submit again the jobs of a remote sweep that failed or were aborted" in text


def test_help_of_status() -> None:
    result = status("--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "Usage: flyte hydra status [OPTIONS] SWEEP" in text
    for fragment in ("--wait/--no-wait", "--wait-max-workers", "flyte-sweep.json", "sweep id", "Exit status"):
        assert fragment in text, fragment


def test_help_of_rerun() -> None:
    result = rerun("--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "Usage: flyte hydra rerun [OPTIONS] SWEEP" in text
    for fragment in ("--failed", "--wait/--no-wait", "--wait-max-workers", "same composed config"):
        assert fragment in text, fragment


def test_hydra_help_imports_neither_hydra_nor_core() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flyte.cli.main import main\n"
        "for args in (['--help'], ['hydra', '--help'], ['hydra', 'status', '--help'], ['hydra', 'rerun', '--help']):\n"
        "    r = CliRunner().invoke(main, args)\n"
        "    assert r.exit_code == 0, r.output\n"
        "light = {'hydra_flyte', 'hydra_flyte._lazy', 'hydra_flyte.compat', 'hydra_flyte.config', 'hydra_flyte.compat.fallback', 'hydra_flyte.compat.coexistence', 'hydra_flyte.settings_schema', 'hydra_flyte.errors', 'hydra_flyte.integration', 'hydra_flyte.config.overrides'}  # stdlib only\n"
        "print([m for m in sys.modules if m in ('hydra', 'omegaconf') or m.startswith('hydra_flyte') and m not in light])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"DO_NOT_TRACK": "1", "PATH": ""}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------------------------
# usage errors and missing manifests: exit 2
# ----------------------------------------------------------------------------------------------
def test_rerun_without_failed_is_a_usage_error(project) -> None:
    write_manifest(project / "sweep", ["FAILED"])
    result = rerun("sweep")
    assert result.exit_code == 2, result.output
    assert "only `--failed` is supported" in flat(result.output)


@pytest.mark.parametrize("command", ["status", "rerun"])
def test_sweep_argument_is_required(project, command) -> None:
    result = flyte("hydra", command, *(["--failed"] if command == "rerun" else []))
    assert result.exit_code == 2, result.output
    assert "Missing argument 'SWEEP'" in flat(result.output)


@pytest.mark.parametrize("command", ["status", "rerun"])
@pytest.mark.parametrize("where", ["missing.json", "empty_dir", "hf-unknown"])
def test_missing_manifest_exits_2(project, command, where) -> None:
    (project / "empty_dir").mkdir()
    result = flyte("hydra", command, where, *(["--failed"] if command == "rerun" else []))
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert f"Invalid value for 'SWEEP': no sweep manifest at '{where}'" in text
    assert "sweep directory, or a sweep id" in text
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "Expecting property name"),
        (json.dumps({"version": 99, "jobs": []}), "unsupported manifest version"),
    ],
    ids=["not-json", "unknown-version"],
)
def test_unreadable_manifest_exits_2(project, content, fragment) -> None:
    (project / "flyte-sweep.json").write_text(content)
    result = status("flyte-sweep.json")
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert (
        "flyte-sweep.json is not a hydra-flyte sweep manifest this version can read" in text
        and fragment in text
    )
    assert "Traceback" not in result.output


def test_bad_wait_max_workers(project) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED"])
    result = status("sweep", "--wait-max-workers", "0")
    assert result.exit_code == 2, result.output
    assert "0 is not in the range x>=1" in flat(result.output)


# ----------------------------------------------------------------------------------------------
# the real core functions, up to the control plane
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["status", "rerun"])
def test_no_endpoint_exits_1(project, command) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "FAILED"])
    for sweep in ("sweep", "sweep/flyte-sweep.json", "hf-test0001"):
        result = flyte("hydra", command, sweep, *(["--failed"] if command == "rerun" else []))
        assert result.exit_code == 1, result.output
        assert "no Flyte endpoint configured" in flat(result.output)
        assert "Traceback" not in result.output


def test_flyte_group_endpoint_is_used(project) -> None:
    # `flyte --endpoint` reaches the lookup: nothing listens there, so the connection is refused.
    write_manifest(project / "sweep", ["SUBMITTED"])
    result = flyte("--endpoint", "dns:///127.0.0.1:9", "--insecure", "hydra", "status", "sweep")
    assert result.exit_code == 1, result.output
    text = flat(result.output)
    assert "no Flyte endpoint configured" not in text
    assert "cannot reach the Flyte endpoint http://127.0.0.1:9 (127.0.0.1:9: Connection refused)" in text
    assert "admin.endpoint" in text and "--endpoint" in text  # where to fix it
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------------------------
# status
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("phases", "wait", "code"),
    [
        (["SUCCEEDED", "SUCCEEDED"], False, 0),
        (["SUCCEEDED", "RUNNING"], False, 0),
        (["SUCCEEDED", "FAILED"], False, 1),
        (["ABORTED", "RUNNING"], False, 1),
        (["TIMED_OUT"], False, 1),
        (["NOT_SUBMITTED", "SUCCEEDED"], False, 1),
        (["SUBMIT_FAILED", "SUCCEEDED"], False, 1),
        (["SUCCEEDED", "SUCCEEDED"], True, 0),
        (["SUCCEEDED", "FAILED"], True, 1),
    ],
)
def test_status_exit_code(project, fake, phases, wait, code) -> None:
    write_manifest(project / "sweep", phases)
    result = status("sweep", *(["--wait"] if wait else []))
    assert result.exit_code == code, result.output
    assert fake.calls == [
        (
            "sweep_status",
            {
                "sweep": str(project / "sweep" / "flyte-sweep.json"),
                "wait": wait,
                "wait_max_workers": 32,
                "reconnect_timeout_seconds": 600.0,
            },
        )
    ]


def test_status_prints_the_summary_and_the_manifest(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "SUBMITTED", "PLANNED"])
    fake.after_status = {1: "FAILED", 2: "NOT_SUBMITTED"}
    result = status("sweep", "--wait-max-workers", "4")
    assert result.exit_code == 1, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "Sweep hf-test0001: 3 jobs of fixture.score in proj/dev"
    rows = summary_rows(result.stdout)
    assert [(r["job"], r["overrides"], r["phase"]) for r in rows] == [
        ("0", "optimizer.lr=0", "SUCCEEDED"),
        ("1", "optimizer.lr=1", "FAILED"),
        ("2", "optimizer.lr=2", "NOT_SUBMITTED"),
    ]
    assert rows[0]["value / error"] == "0.0" and rows[1]["value / error"] == "job 1 went failed"
    assert rows[0]["url"] == "http://cp.example/runs/exp-0" and rows[2]["url"] == "-"
    assert lines[-2:] == [
        "1 failed, 1 not_submitted, 1 succeeded",
        f"Manifest: {project / 'sweep' / 'flyte-sweep.json'}",
    ]
    assert fake.calls[0][1]["wait_max_workers"] == 4
    # Flyte is initialised in the project and domain the sweep was submitted to.
    assert fake.inits == [("proj", "dev")]


def test_status_with_output_format_json_prints_one_document(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "SUCCEEDED", "RUNNING"])
    fake.after_status = {1: "FAILED"}
    result = flyte("-of", "json", "hydra", "status", "sweep")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)  # the whole of stdout
    manifest = json.loads((project / "sweep" / "flyte-sweep.json").read_text())
    assert document["sweep_id"] == "hf-test0001" and document["manifest"] == str(
        project / "sweep" / "flyte-sweep.json"
    )
    assert document["jobs"] == manifest["jobs"]  # the manifest's records, every field
    assert [j["phase"] for j in document["jobs"]] == ["SUCCEEDED", "FAILED", "RUNNING"]
    assert document["best_job"] is None  # one numeric value only


def test_status_marks_the_best_job_in_the_sweepers_direction(project, fake) -> None:
    manifest = write_manifest(project / "sweep", ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"])
    manifest.direction = "maximize"
    manifest.save()
    table = status("sweep")
    assert table.exit_code == 0, table.output
    assert [r["job"] for r in summary_rows(table.stdout)] == ["0", "1", "2"]
    assert "★ best: job 2, highest value (the sweeper maximizes)" in table.stdout
    raw = flyte("--output-format", "json-raw", "hydra", "status", "sweep")
    assert raw.stdout.count("\n") == 1 and json.loads(raw.stdout)["best_job"] == 2


def test_status_by_sweep_id(project, fake, monkeypatch) -> None:
    write_manifest(project / "multirun" / "s1", ["SUCCEEDED"], sweep_id="hf-byid0001")
    monkeypatch.chdir(project.parent)  # the id is found through the index, from anywhere
    result = status("hf-byid0001")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1].rstrip()
        == f"Manifest: {(project / 'multirun' / 's1' / 'flyte-sweep.json')}"
    )


def test_status_of_an_interrupted_sweep_says_so(project, fake) -> None:
    manifest = write_manifest(project / "sweep", ["RUNNING"])
    manifest.mark_interrupted()
    result = status("sweep")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].rstrip().endswith("(interrupted)")


@pytest.mark.parametrize(
    ("error", "code", "fragment"),
    [
        (
            RuntimeError("[unavailable] connection refused"),
            1,
            "RuntimeError: [unavailable] connection refused",
        ),
        (hydra_flyte.ConfigurationError("bad sweep"), 2, "bad sweep"),
    ],
)
def test_status_errors_from_core(project, fake, monkeypatch, error, code, fragment) -> None:
    write_manifest(project / "sweep", ["RUNNING"])

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(hydra_flyte, "sweep_status", failing)
    result = status("sweep")
    assert result.exit_code == code, result.output
    assert fragment in flat(result.output)
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------------------------
# rerun
# ----------------------------------------------------------------------------------------------
def test_rerun_resubmits_the_failed_jobs_and_reports_success(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "FAILED", "ABORTED"])
    result = rerun("sweep", "--failed")
    assert result.exit_code == 0, result.output
    manifest_path = str(project / "sweep" / "flyte-sweep.json")
    assert fake.calls == [
        (
            "sweep_status",
            {
                "sweep": manifest_path,
                "wait": False,
                "wait_max_workers": 32,
                "reconnect_timeout_seconds": 600.0,
            },
        ),
        (
            "rerun_failed",
            {
                "sweep": manifest_path,
                "wait": True,
                "wait_max_workers": 32,
                "reconnect_timeout_seconds": 600.0,
            },
        ),
    ]
    # What was resubmitted is progress (stderr); the summary alone is on stdout.
    assert result.stderr.splitlines()[:2] == [
        "Resubmitted job 1 (optimizer.lr=1): http://cp.example/r1",
        "Resubmitted job 2 (optimizer.lr=2): http://cp.example/r2",
    ]
    assert "Resubmitted" not in result.stdout
    out = [line.rstrip() for line in result.stdout.splitlines()]
    assert "3 succeeded" in out
    assert out[-1] == f"Manifest: {manifest_path}"
    # Recorded in the same manifest, the first runs kept as attempts.
    saved = hydra_flyte.load_manifest(project / "sweep")
    assert [r.run_name for r in saved.records()] == ["exp-0", "exp-1-r1", "exp-2-r1"]
    assert [a["run_name"] for a in saved.jobs[1].attempts] == ["exp-1"]


def test_rerun_finds_failures_the_manifest_did_not_know_yet(project, fake) -> None:
    # A sweep submitted with --no-wait: the manifest still says SUBMITTED until the control plane is asked.
    write_manifest(project / "sweep", ["SUBMITTED", "SUBMITTED"])
    fake.after_status = {0: "SUCCEEDED", 1: "FAILED"}
    result = rerun("sweep", "--failed")
    assert result.exit_code == 0, result.output
    assert fake.names() == ["sweep_status", "rerun_failed"]
    assert "Resubmitted job 1" in result.stderr


def test_rerun_exits_1_when_a_rerun_fails_again(project, fake) -> None:
    write_manifest(project / "sweep", ["FAILED", "FAILED"])
    fake.after_rerun = {1: "FAILED"}
    result = rerun("sweep", "--failed")
    assert result.exit_code == 1, result.output
    assert "1 failed, 1 succeeded" in result.stdout


def test_rerun_no_wait(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "FAILED"])
    result = rerun("sweep", "--failed", "--no-wait", "--wait-max-workers", "3")
    assert result.exit_code == 0, result.output  # resubmitted, nothing left failed
    assert fake.calls[-1] == (
        "rerun_failed",
        {
            "sweep": str(project / "sweep" / "flyte-sweep.json"),
            "wait": False,
            "wait_max_workers": 3,
            "reconnect_timeout_seconds": 600.0,
        },
    )
    assert "1 submitted, 1 succeeded" in result.stdout


def test_rerun_with_nothing_failed(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "RUNNING"])
    fake.after_status = {}
    result = rerun("sweep", "--failed")
    assert "No failed or aborted run to rerun." in result.stderr
    assert "rerun_failed" not in fake.names()
    # --wait: the runs still going are waited for, as after a rerun.
    assert fake.calls[-1][0] == "sweep_status" and fake.calls[-1][1]["wait"] is True
    assert result.exit_code == 1, result.output  # the fake left job 1 RUNNING: not every job succeeded


@pytest.mark.parametrize("phase", ["NOT_SUBMITTED", "SUBMIT_FAILED"])
def test_rerun_cannot_rerun_jobs_that_never_ran_and_says_to_resume(project, fake, phase) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", phase])
    result = rerun("sweep", "--failed")
    assert result.exit_code == 1, result.output
    text = flat(result.stderr)
    assert f"job 1 [optimizer.lr=1] is {phase}: no run of it exists on the control plane" in text
    assert f"--resume {(project / 'sweep' / 'flyte-sweep.json').resolve()}" in text
    assert "rerun_failed" not in fake.names()
    assert "No failed or aborted run to rerun." in result.stderr


# ----------------------------------------------------------------------------------------------
# Ctrl-C
# ----------------------------------------------------------------------------------------------
def test_keyboard_interrupt_from_core_exits_130(project, fake, monkeypatch) -> None:
    write_manifest(project / "sweep", ["RUNNING"])

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(hydra_flyte, "sweep_status", interrupted)
    result = status("sweep", "--wait")
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().splitlines() == ["Interrupted."]
    assert "Traceback" not in result.output


def test_ctrl_c_while_waiting_stops_at_once_and_says_how_to_reattach(project, fake, monkeypatch) -> None:
    write_manifest(project / "sweep", ["RUNNING"])
    exits: list[int] = []

    def hard_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    def slow_status(*args: Any, **kwargs: Any) -> Any:
        _thread.interrupt_main()  # Ctrl-C in the main thread while core waits in another one
        time.sleep(30)

    monkeypatch.setattr(sweeps_cli, "_hard_exit", hard_exit)
    monkeypatch.setattr(sweeps_cli, "_FLUSH_GRACE_SECONDS", 0)
    monkeypatch.setattr(hydra_flyte, "sweep_status", slow_status)
    started = time.monotonic()
    result = status("sweep", "--wait")
    assert time.monotonic() - started < 10
    assert exits == [130] and result.exit_code == 130, result.output
    manifest_path = project / "sweep" / "flyte-sweep.json"
    assert flat(result.stderr) == (
        f"Interrupted: stopped waiting; the runs go on. Manifest: {manifest_path}. "
        f"Reattach with: flyte hydra status {manifest_path} --wait"
    )
