"""`python app.py hydra/launcher=flyte ...` in remote mode against the loopback Flyte control plane.

The app (launcher_app.py, the guide's `main` pattern) runs as a subprocess whose default Flyte
config (found through HOME) points at the control plane.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
FLOAT = r"[0-9]+\.[0-9]+(?:e-?[0-9]+)?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("launcher-project")
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("hydra_tasks.py", "launcher_app.py"):
        shutil.copy(HERE / name, root / name)
    return root


@pytest.fixture
def cp(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    control_plane.reset()
    yield control_plane
    control_plane.reset()


def run_app(cp: ControlPlane, cwd: Path, script: str, *args: str) -> tuple[int, str]:
    cp.write_flyte_config(cp.home / ".flyte" / "config.yaml")
    env = cp.env()
    env.pop("FLYTECTL_CONFIG", None)  # found through HOME, as a user's would be
    proc = subprocess.run([sys.executable, script, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def summary_of(text: str) -> dict:
    """The summary a launch printed with `hydra.launcher.summary=json-raw`: its one-line JSON document."""
    (line,) = [line for line in text.splitlines() if line.startswith("{") and '"jobs": [' in line]
    return json.loads(line)


def test_single_run_prints_url_then_the_real_value(cp: ControlPlane, project: Path) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "hydra/launcher=flyte", "optimizer.lr=0.5",
                         "hydra.launcher.summary=json-raw")  # fmt: skip
    assert code == 0, text
    name, url = re.search(
        r"Submitted (\S+) \(optimizer.lr=0.5\): (http://127\.0\.0\.1:\d+/\S+)", text
    ).groups()
    assert url.startswith(cp.endpoint) and url.endswith(f"/runs/{name}")
    (job,) = summary_of(text)["jobs"]
    assert (job["value"], job["url"], job["phase"]) == (1.0, url, "SUCCEEDED")
    assert "RunResult(" not in text  # the value is printed once: in the summary
    assert cp.runs[name].phase == "SUCCEEDED"


def test_grid_submits_every_job_before_waiting_in_basic_sweeper_order(
    cp: ControlPlane, project: Path
) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         "model=small,large", "optimizer.lr=0.25,0.5", "hydra.launcher.summary=json-raw")  # fmt: skip
    assert code == 0, text
    creates = [r.arrived_at for r in cp.requests.of("RunService/CreateRun")]
    watches = [r.arrived_at for r in cp.requests.of("RunService/WatchActionDetails")]
    assert len(creates) == 4 and max(creates) < min(watches)
    document = summary_of(text)
    values = [job["value"] for job in document["jobs"]]
    assert values == pytest.approx([0.5, 1.0, 2.5, 5.0])
    # flyte is initialised in the app's first job, after the manifest was made: still recorded.
    assert (document["project"], document["domain"]) == (cp.project, cp.domain)
    assert "RunResult(" not in text  # each value printed once: in the summary
    sweep_dirs = list((project / "multirun").glob("*/*"))
    assert any((d / "multirun.yaml").is_file() for d in sweep_dirs)


def test_fire_and_forget_returns_at_once(cp: ControlPlane, project: Path) -> None:
    cp.faults.hang_runs(lambda target: True)
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         "hydra.launcher.wait=false", "optimizer.lr=0.1,0.2")  # fmt: skip
    assert code == 0, text
    names = re.findall(r"^Submitted (\S+) ", text, flags=re.MULTILINE)
    assert len(names) == 2
    assert len(re.findall(r"submitted, not completed", text)) == 2
    assert not cp.requests.of("RunService/WatchActionDetails")


@pytest.mark.parametrize("sweeper", ["optuna", "optuna_async"])
def test_optuna_reads_objectives_from_remote_runs(cp: ControlPlane, project: Path, sweeper: str) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         f"hydra/sweeper={sweeper}", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=3",
                         "optimizer.lr=interval(0.01,1.0)", "hydra.launcher.summary=json-raw")  # fmt: skip
    assert code == 0, text
    document = summary_of(text)  # printed once, when the sweep ended (after every batch)
    values = [job["value"] for job in document["jobs"]]
    assert len(values) == 3 and len(cp.requests.created_runs()) == 3
    assert document["direction"] == "minimize" and values[document["best_job"]] == min(values)
    best = re.search(rf"Best value: ({FLOAT})", text)
    assert best and float(best.group(1)) == pytest.approx(min(values))


def test_task_env_and_run_options_reach_the_control_plane(cp: ControlPlane, project: Path) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         "+task_env=big,image", "+hydra.launcher.run_options.name=lsweep",
                         "+hydra.launcher.run_options.service_account=trainer",
                         "+hydra.launcher.run_options.env_vars={STAGE: it}",
                         "+hydra.launcher.run_options.labels={team: ml}")  # fmt: skip
    assert code == 0, text
    big, image = cp.requests.created_run("lsweep-0"), cp.requests.created_run("lsweep-1")
    assert big.resources["requests"] == {"cpu": "3", "memory": "3Gi"}
    assert image.image == "ghcr.io/acme/prebuilt:7" and image.task_spec.task_template.HasField("k8s_pod")
    for created in (big, image):
        assert created.env_vars["STAGE"] == "it" and created.labels["team"] == "ml"
        assert created.run_spec.security_context.run_as.k8s_service_account == "trainer"


def test_child_task_env_through_apply_task_env_in_the_example(cp: ControlPlane, tmp_path: Path) -> None:
    example = tmp_path / "example"
    shutil.copytree(EXAMPLES, example, ignore=shutil.ignore_patterns("outputs", "multirun", "__pycache__"))
    code, text = run_app(
        cp, example, "train.py", "hydra/launcher=flyte", "+task_env=a100", "training.epochs=3"
    )
    assert code == 0, text
    (root,) = cp.requests.created_runs()
    children = {
        a.task_name.rsplit(".", 1)[-1]: a for a in cp.runs[root.name].actions.values() if not a.is_root
    }
    assert children["train_model"].resources["requests"] == {"cpu": "12", "memory": "85Gi", "gpu": "1"}
    assert root.resources["requests"] == {"cpu": "2", "memory": "8Gi"}


def test_a_failing_job_exits_non_zero_and_keeps_the_others(cp: ControlPlane, project: Path) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte", "+task=fails_for_sgd",
                         "optimizer=adam,sgd", "hydra.launcher.summary=json-raw")  # fmt: skip
    assert code != 0
    ok, bad = summary_of(text)["jobs"]
    assert (ok["phase"], ok["value"]) == ("SUCCEEDED", 0.001) and bad["phase"] == "FAILED"
    assert "loss exploded" in bad["error"]
    failed = re.search(
        r"Job #1 \(.*optimizer=sgd\) failed: run \((http://\S+)\) ended in phase FAILED: .*loss exploded",
        text,
    )
    assert failed and failed.group(1).startswith(cp.endpoint), text


def test_two_flyte_runs_in_one_main_are_two_runs(cp: ControlPlane, project: Path) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         "hydra.launcher.wait=false", "+runs_in_main=2", "optimizer.lr=0.1,0.2")  # fmt: skip
    assert code == 0, text
    pairs = [line.split()[3:] for line in text.splitlines() if line.startswith("runs in main:")]
    names = [name for pair in pairs for name in pair]
    assert len(pairs) == 2 and len(set(names)) == 4, text
    assert sorted(r.name for r in cp.requests.created_runs()) == sorted(names)


def test_waiting_on_the_run_inside_main(cp: ControlPlane, project: Path) -> None:
    code, text = run_app(cp, project, "launcher_app.py", "--multirun", "hydra/launcher=flyte",
                         "+wait_in_main=true", "optimizer.lr=0.25,0.5", "hydra.launcher.summary=json-raw")  # fmt: skip
    assert code == 0, text
    waited = re.findall(rf"waited in main: (\S+) \S+ ({FLOAT})", text)
    assert [float(v) for _, v in waited] == pytest.approx([0.5, 1.0]), text
    assert all(cp.runs[name].phase == "SUCCEEDED" for name, _ in waited)
    values = [job["value"] for job in summary_of(text)["jobs"]]  # what main returned, in the summary
    assert values == pytest.approx([0.5, 1.0]), text
