"""`flyte hydra abort SWEEP`: parsing, help, bad inputs, exit statuses and output.

Manifests here are real ones, written by hydra_flyte's `Manifest`. Where a test needs the control
plane's answers, hydra_flyte.abort_sweep is replaced by a recorder (`FakeAbort`) that records the
phases the test chose and returns a real `SweepAbort`; the real remote path (the loopback control
plane) is tests-integration/test_sweep_abort.py's. Without the replacement, the real function runs
and stops at the local sweep or the missing endpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import flat, flyte, summary_rows

import flyte_hydra_cli._flyte_private as fp
import hydra_flyte
from hydra_flyte import Manifest, SweepAbort


@pytest.fixture(autouse=True)
def _own_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweep ids are indexed under the cache directory: keep it inside the test's HOME."""
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def write_manifest(directory: Path, phases: list[str], *, mode: str = "remote") -> Manifest:
    """A manifest of len(phases) jobs, job N in phases[N] (PLANNED: named, never submitted)."""
    manifest = Manifest.create(
        directory,
        sweep_id="hf-abort001",
        task="fixture.score",
        run_options={"project": "proj", "domain": "dev"},
        mode=mode,
    )
    manifest.plan(
        (n, [f"optimizer.lr={n}"], None if mode == "local" else f"ab-{n}") for n in range(len(phases))
    )
    for n, phase in enumerate(phases):
        if phase == "PLANNED":
            continue
        if mode == "remote":
            manifest.submitted(n, run_name=f"ab-{n}", url=f"http://cp.example/runs/ab-{n}")
        if phase == "SUCCEEDED":
            manifest.finished(n, phase=phase, value=float(n))
        elif phase in ("FAILED", "ABORTED"):
            manifest.finished(n, phase=phase, error=f"job {n} went {phase.lower()}")
        elif phase != "SUBMITTED":
            manifest.phase_seen(n, phase)
    manifest.save()
    return manifest


def abort(*args: str) -> Any:
    return flyte("hydra", "abort", *args)


@dataclass
class FakeAbort:
    """Stands in for hydra_flyte.abort_sweep: records the call, applies what the control plane 'confirmed'."""

    aborted: list[int] = field(default_factory=list)  # jobs the control plane confirms ABORTED
    unconfirmed: list[int] = field(default_factory=list)  # jobs it could not be reached for
    calls: list[dict[str, Any]] = field(default_factory=list)
    inits: list[tuple[Any, Any]] = field(default_factory=list)

    def abort_sweep(self, sweep: Any, **kwargs: Any) -> SweepAbort:
        self.calls.append({"sweep": str(sweep), **kwargs})
        manifest = hydra_flyte.load_manifest(sweep)
        outcome = SweepAbort(manifest)
        for num in self.aborted:
            print(f"job {num}: aborted run ab-{num}", file=sys.stderr)
            manifest.finished(num, phase="ABORTED", error=f"aborted: {kwargs['reason']}")
            outcome.aborted.append(num)
        for num in self.unconfirmed:
            print(f"job {num}: unconfirmed", file=sys.stderr)
            outcome.unconfirmed[num] = "lost contact with the control plane"
        manifest.save()
        return outcome

    def initialize_config(self, ctx: Any, project: Any, domain: Any, *args: Any, **kwargs: Any) -> None:
        self.inits.append((project, domain))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAbort:
    recorder = FakeAbort()
    monkeypatch.setattr(hydra_flyte, "abort_sweep", recorder.abort_sweep)
    monkeypatch.setattr(fp, "initialize_config", recorder.initialize_config)
    return recorder


# ----------------------------------------------------------------------------------------------
# help and the lazy entry point
# ----------------------------------------------------------------------------------------------
def test_group_help_lists_abort() -> None:
    result = flyte("hydra", "--help")
    assert result.exit_code == 0, result.output
    assert "abort Abort every unfinished run of a remote sweep" in flat(result.output)


def test_help_of_abort() -> None:
    result = abort("--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "Usage: flyte hydra abort [OPTIONS] SWEEP" in text
    for fragment in (
        "--reason",
        "--wait-max-workers",
        "--reconnect-timeout",
        "flyte-sweep.json",
        "sweep id",
        "not submitted, nothing to abort",
        "Exit status",
    ):
        assert fragment in text, fragment


def test_abort_help_imports_neither_hydra_nor_core() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flyte.cli.main import main\n"
        "r = CliRunner().invoke(main, ['hydra', 'abort', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "light = {'hydra_flyte', 'hydra_flyte._lazy', 'hydra_flyte.compat', 'hydra_flyte.config', 'hydra_flyte.compat.fallback', 'hydra_flyte.compat.coexistence', 'hydra_flyte.settings_schema', 'hydra_flyte.errors', 'hydra_flyte.integration', 'hydra_flyte.config.overrides'}  # stdlib only\n"
        "print([m for m in sys.modules if m in ('hydra', 'omegaconf') or m.startswith('hydra_flyte') and m not in light])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"DO_NOT_TRACK": "1", "PATH": ""}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------------------------
# bad inputs: exit 2
# ----------------------------------------------------------------------------------------------
def test_sweep_argument_is_required(project) -> None:
    result = abort()
    assert result.exit_code == 2, result.output
    assert "Missing argument 'SWEEP'" in flat(result.output)


@pytest.mark.parametrize("where", ["missing.json", "empty_dir", "hf-unknown"])
def test_missing_manifest_exits_2(project, where) -> None:
    (project / "empty_dir").mkdir()
    result = abort(where)
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert f"Invalid value for 'SWEEP': no sweep manifest at '{where}'" in text
    assert "Traceback" not in result.output


def test_unreadable_manifest_exits_2(project) -> None:
    (project / "flyte-sweep.json").write_text("{not json")
    result = abort("flyte-sweep.json")
    assert result.exit_code == 2, result.output
    assert "is not a hydra-flyte sweep manifest this version can read" in flat(result.output)


def test_bad_reconnect_timeout(project) -> None:
    write_manifest(project / "sweep", ["RUNNING"])
    result = abort("sweep", "--reconnect-timeout", "-1")
    assert result.exit_code == 2, result.output
    assert "-1.0 is not in the range x>=0" in flat(result.output)


def test_a_local_sweep_exits_2_and_says_there_is_nothing_to_abort(project) -> None:
    # The real abort_sweep: it refuses a local sweep before looking for any control plane.
    write_manifest(project / "sweep", ["SUCCEEDED", "RUNNING"], mode="local")
    before = (project / "sweep" / "flyte-sweep.json").read_text()
    result = abort("sweep")
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "is a local sweep" in text and "no run of it is on a control plane to abort" in text, text
    assert "no Flyte endpoint configured" not in text
    assert "Traceback" not in result.output
    assert (project / "sweep" / "flyte-sweep.json").read_text() == before


# ----------------------------------------------------------------------------------------------
# the real core function, up to the control plane: exit 1
# ----------------------------------------------------------------------------------------------
def test_no_endpoint_exits_1_and_leaves_the_manifest_alone(project) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "RUNNING"])
    before = (project / "sweep" / "flyte-sweep.json").read_text()
    for sweep in ("sweep", "sweep/flyte-sweep.json", "hf-abort001"):
        result = abort(sweep)
        assert result.exit_code == 1, result.output
        assert "no Flyte endpoint configured" in flat(result.output)
        assert "Traceback" not in result.output
    assert (project / "sweep" / "flyte-sweep.json").read_text() == before


# ----------------------------------------------------------------------------------------------
# what the control plane confirmed: exit 0 or 1, the summary on stdout
# ----------------------------------------------------------------------------------------------
def test_every_unfinished_run_confirmed_aborted_exits_0_with_the_summary(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "RUNNING", "SUBMITTED"])
    fake.aborted = [1, 2]
    result = abort("sweep")
    assert result.exit_code == 0, result.output
    manifest_path = project / "sweep" / "flyte-sweep.json"
    assert fake.calls == [
        {
            "sweep": str(manifest_path),
            "reason": "hydra-flyte: sweep aborted with `flyte hydra abort`",
            "wait_max_workers": 32,
            "reconnect_timeout_seconds": 600.0,
        }
    ]
    assert fake.inits == [("proj", "dev")]  # the sweep's project and domain
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "Sweep hf-abort001: 3 jobs of fixture.score in proj/dev"
    rows = summary_rows(result.stdout)
    assert [(r["job"], r["phase"]) for r in rows] == [("0", "SUCCEEDED"), ("1", "ABORTED"), ("2", "ABORTED")]
    assert lines[-2:] == ["2 aborted, 1 succeeded", f"Manifest: {manifest_path}"]
    # Progress on stderr, the summary alone on stdout.
    assert "job 1: aborted run ab-1" in result.stderr and "job 1: aborted" not in result.stdout
    assert "Aborted 2 runs" in flat(result.stderr)


def test_a_job_left_unconfirmed_exits_1_and_says_how_to_finish(project, fake) -> None:
    write_manifest(project / "sweep", ["RUNNING", "RUNNING"])
    fake.aborted, fake.unconfirmed = [0], [1]
    result = abort("sweep", "--reason", "wrong config", "--reconnect-timeout", "5", "--wait-max-workers", "2")
    assert result.exit_code == 1, result.output
    assert fake.calls[0]["reason"] == "wrong config"
    assert fake.calls[0]["reconnect_timeout_seconds"] == 5.0 and fake.calls[0]["wait_max_workers"] == 2
    assert [r["phase"] for r in summary_rows(result.stdout)] == ["ABORTED", "RUNNING"]
    text = flat(result.stderr)
    manifest_path = project / "sweep" / "flyte-sweep.json"
    assert "job 1: unconfirmed" in text and "1 job unconfirmed (job 1; why on their lines above)" in text, (
        text
    )
    assert f"flyte hydra abort {manifest_path}" in text, "how to finish the abort"


def test_nothing_to_abort_exits_0(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "FAILED"])
    result = abort("sweep")
    assert result.exit_code == 0, result.output
    assert [r["phase"] for r in summary_rows(result.stdout)] == ["SUCCEEDED", "FAILED"]


def test_output_format_json_prints_one_document(project, fake) -> None:
    write_manifest(project / "sweep", ["SUCCEEDED", "RUNNING"])
    fake.aborted = [1]
    result = flyte("-of", "json", "hydra", "abort", "sweep")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # the whole of stdout
    assert document["sweep_id"] == "hf-abort001"
    assert [(j["job"], j["phase"]) for j in document["jobs"]] == [(0, "SUCCEEDED"), (1, "ABORTED")]
    saved = json.loads((project / "sweep" / "flyte-sweep.json").read_text())
    assert document["jobs"] == saved["jobs"]


def test_errors_from_core_exit_1_without_a_traceback(project, fake, monkeypatch) -> None:
    write_manifest(project / "sweep", ["RUNNING"])

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("[permission_denied] not yours")

    monkeypatch.setattr(hydra_flyte, "abort_sweep", failing)
    result = abort("sweep")
    assert result.exit_code == 1, result.output
    assert "RuntimeError: [permission_denied] not yours" in flat(result.output)
    assert "Traceback" not in result.output
