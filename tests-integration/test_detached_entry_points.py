"""Detached sweeps through each entry point: the SDK, the `@hydra.main` launcher, and the guide's pipeline.

Against the loopback control plane, every child action executed for real:
- `hydra_sweep(..., detach=True, wait=True)` gives the values of an attached `hydra_sweep`;
  `wait=False` returns at once with the manifest's `driver` set; `mode="local"` is refused, nothing sent;
- a `@hydra.main` script with `hydra/launcher=flyte hydra.launcher.detach=true` creates one driver run
  with one child action per job;
- the guide's `pipeline` (examples/train.py: its own child tasks, `train_model` through
  `apply_task_env`) runs detached with `--detach --wait`: each job's child action has its own children.
- a task whose image flyte would build without hydra-flyte-core is refused before anything is sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from detached_support import SMALL, control_plane_with_children, flyte
from flyte_loopback import ControlPlane
from flyte_loopback.runs import SUCCEEDED
from hydra_tasks import objective

from hydra_flyte import ConfigurationError, hydra_sweep, load_manifest

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
EXAMPLES = HERE.parent / "examples"
GRID = ["model=small,large", "optimizer.lr=0.25,0.5"]
EXPECTED = [0.5, 1.0, 2.5, 5.0]  # lr * depth (small 2, large 10), scale 1

pytestmark = pytest.mark.slow


def job_children(cp: ControlPlane, run_name: str) -> list:
    """The driver run's child actions made for jobs (direct children of its root)."""
    return cp.run(run_name).children("a0")


# --- the SDK --------------------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_sdk_detached_and_waited_gives_the_values_of_an_attached_sweep(
    flyte_remote: ControlPlane, in_tmp: Path
) -> None:
    detached = hydra_sweep(objective, config_path=CONF, config_name="training",
                           overrides=[*GRID, "hydra.sweep.dir=detached"], detach=True, wait=True)  # fmt: skip
    (created,) = flyte_remote.requests.created_runs()
    driver = created.name
    assert flyte_remote.run(driver).root.phase == SUCCEEDED
    kids = job_children(flyte_remote, driver)
    assert sorted(a.group for a in kids) == [f"job-{n}" for n in range(4)]
    assert all(a.phase == SUCCEEDED for a in kids)

    attached = hydra_sweep(objective, config_path=CONF, config_name="training",
                           overrides=[*GRID, "hydra.sweep.dir=attached"])  # fmt: skip
    assert [float(r) for r in detached] == pytest.approx(EXPECTED)
    assert [float(r) for r in detached] == [float(r) for r in attached]
    manifest = load_manifest(in_tmp / "detached")
    assert manifest.driver["run_name"] == driver
    assert [r.phase for r in manifest.records()] == ["SUCCEEDED"] * 4


def test_sdk_detached_without_waiting_returns_once_the_driver_run_is_created(
    flyte_remote: ControlPlane, in_tmp: Path
) -> None:
    from slow_tasks import slow_objective

    started = time.monotonic()
    runs = hydra_sweep(slow_objective, config_path=CONF, config_name="training",
                       overrides=["optimizer.lr=0.25,0.5,1.0", "hydra.sweep.dir=nowait"], detach=True, wait=False,
                       seconds=3.0)  # fmt: skip
    returned_after = time.monotonic() - started
    (created,) = flyte_remote.requests.created_runs()
    driver = created.name
    assert len(runs) == 3
    assert not flyte_remote.run(driver).root.done, (
        f"returned after {returned_after:.1f} s, the sweep had ended"
    )
    assert not flyte_remote.requests.of("RunService/WatchActionDetails")  # nothing waited on
    manifest = load_manifest(in_tmp / "nowait")
    assert manifest.driver["run_name"] == driver
    assert {r.run_name for r in manifest.records()} == {driver}
    flyte_remote.wait_for_phase(driver, ["SUCCEEDED"], timeout=180)
    assert len(job_children(flyte_remote, driver)) == 3


def test_sdk_detach_in_local_mode_is_refused_with_nothing_submitted(
    flyte_remote: ControlPlane, in_tmp: Path
) -> None:
    with pytest.raises(ConfigurationError, match="detach"):
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=GRID, detach=True,
                    mode="local")  # fmt: skip
    assert flyte_remote.requests.created_runs() == []


# --- the launcher ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def launcher_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detached-launcher")
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("hydra_tasks.py", "launcher_app.py"):
        shutil.copy(HERE / name, root / name)
    return root


@pytest.fixture
def cp(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    control_plane.reset()
    yield control_plane
    control_plane.reset()


def test_hydra_main_with_the_flyte_launcher_detached_is_one_driver_run_of_n_child_actions(
    cp: ControlPlane, launcher_project: Path
) -> None:
    cp.write_flyte_config(cp.home / ".flyte" / "config.yaml")
    env = cp.env()
    env.pop("FLYTECTL_CONFIG", None)  # found through HOME, as a user's would be
    proc = subprocess.run(
        [sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", "hydra.launcher.detach=true",
         "hydra.launcher.summary=json-raw", "hydra.sweep.dir=detached", *GRID],
        cwd=launcher_project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    (created,) = cp.requests.created_runs()
    driver = created.name
    kids = job_children(cp, driver)
    assert sorted(a.group for a in kids) == [f"job-{n}" for n in range(4)]
    assert all(a.phase == SUCCEEDED for a in kids)
    (line,) = [line for line in text.splitlines() if line.startswith("{") and '"jobs": [' in line]
    jobs = json.loads(line)["jobs"]
    assert [j["value"] for j in jobs] == pytest.approx(EXPECTED)
    manifest = json.loads((launcher_project / "detached" / "flyte-sweep.json").read_text())
    assert manifest["driver"]["run_name"] == driver


# --- the guide's pipeline, through the CLI ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cp_nested(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[ControlPlane]:
    """Room for 2 pipelines and a child task of each at once (children of children share the child slots)."""
    yield from control_plane_with_children(tmp_path_factory, control_plane, "control-plane-nested")


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    root = tmp_path / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("outputs", "multirun", "__pycache__"))
    return root


def test_the_guides_pipeline_runs_detached_each_job_with_its_own_child_tasks(
    cp_nested: ControlPlane, examples_dir: Path
) -> None:
    cp = cp_nested
    cp.reset()
    proc = flyte(cp, examples_dir, "-of", "json", "hydra", "run", *SMALL, "--multirun", "--detach", "--wait",
                 "--max-concurrency", "2", "--hydra-override", "hydra.sweep.dir=detached", "train.py", "pipeline",
                 "--dataset", "digits", "--cfg", "optimizer.lr=0.001,0.01", "--cfg", "training.epochs=3",
                 timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    (created,) = cp.requests.created_runs()
    driver = created.name
    run = cp.run(driver)
    assert run.root.phase == SUCCEEDED
    kids = run.children("a0")
    assert sorted(a.group for a in kids) == ["job-0", "job-1"]
    for kid in kids:
        assert kid.phase == SUCCEEDED and kid.task_name.rsplit(".", 1)[-1] == "pipeline"
        grandchildren = run.children(kid.name)
        assert sorted(a.task_name.rsplit(".", 1)[-1] for a in grandchildren) == ["preprocess", "train_model"]
        assert all(a.phase == SUCCEEDED for a in grandchildren)
    jobs = json.loads(proc.stdout)["jobs"]
    assert [j["phase"] for j in jobs] == ["SUCCEEDED"] * 2
    assert all(isinstance(j["value"], float) and 0.0 < j["value"] < 5.0 for j in jobs)
    assert jobs[0]["value"] != jobs[1]["value"]  # two learning rates, two losses


AUTO_IMAGE_TASKS = """
import flyte
from omegaconf import DictConfig

env = flyte.TaskEnvironment(name="auto_image")  # flyte's default image: no hydra-flyte-core in it


@env.task
async def objective(cfg: DictConfig) -> float:
    return float(cfg.optimizer.lr)
"""


def test_an_image_without_hydra_flyte_core_is_refused_before_anything_is_sent(
    cp: ControlPlane, launcher_project: Path
) -> None:
    (launcher_project / "auto_image_tasks.py").write_text(AUTO_IMAGE_TASKS)
    proc = flyte(cp, launcher_project, "hydra", "run", *SMALL, "--multirun", "--detach", "--hydra-override",
                 "hydra.sweep.dir=auto-image", "auto_image_tasks.py", "objective", "--cfg", "optimizer.lr=0.25,0.5")  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "hydra-flyte-core" in proc.stderr and "with_pip_packages" in proc.stderr
    assert cp.requests.created_runs() == []
