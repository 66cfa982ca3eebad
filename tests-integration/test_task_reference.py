"""References to deployed tasks (`flyte.remote.Task.get(name, auto_version="latest")`) as the entry
task of hydra_run / hydra_sweep, and as a child task given its task_env with apply_task_env.

The tasks of reference_tasks.py are deployed to the loopback control plane (TaskService/DeployTask)
and read back by name (ListTasks, GetTaskDetails), as they would be from a cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flyte_loopback import ControlPlane

from hydra_flyte import ConfigurationError, hydra_run, hydra_sweep

CONF = str(Path(__file__).resolve().parent / "conf")


@pytest.fixture
def deployed(flyte_remote: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ControlPlane:
    import flyte
    import reference_tasks

    monkeypatch.chdir(tmp_path)
    flyte.deploy(reference_tasks.env)  # a second deploy of the same version is "already deployed"
    deployed = {r.request.task_id.name for r in flyte_remote.requests.of("TaskService/DeployTask")}
    assert {"hydra_ref.objective", "hydra_ref.train_model", "hydra_ref.pipeline"} <= deployed
    flyte_remote.requests.clear()
    return flyte_remote


def reference(name: str):
    import flyte.remote

    return flyte.remote.Task.get(name, auto_version="latest")


def test_a_reference_is_the_entry_task_of_hydra_run_and_hydra_sweep(deployed: ControlPlane) -> None:
    ref = reference("hydra_ref.objective")
    result = hydra_run(
        ref, config_path=CONF, config_name="training", overrides=["optimizer.lr=0.5"], offset=1.0
    )
    assert float(result) == pytest.approx(0.5 * 2 + 1.0)
    created = deployed.requests.created_run(result.name).request
    assert created.HasField("task_id") and created.task_id.name == "hydra_ref.objective"  # run by reference
    results = hydra_sweep(ref, config_path=CONF, config_name="training", overrides=["optimizer.lr=0.25,0.5"])
    assert [float(r) for r in results] == pytest.approx([0.5, 1.0])


def test_task_env_settings_reach_a_reference_entry_task(deployed: ControlPlane) -> None:
    ref = reference("hydra_ref.objective")
    result = hydra_run(ref, config_path=CONF, config_name="training", overrides=["+task_env=big"])
    assert float(result) == pytest.approx(0.001 * 2)
    created = deployed.requests.created_run(result.name)
    assert created.request.HasField("task_spec")  # overridden: the changed spec is sent
    assert created.resources["requests"] == {"cpu": "3", "memory": "3Gi"}


def test_a_child_reference_gets_its_task_env_inside_the_task(deployed: ControlPlane) -> None:
    import reference_tasks

    result = hydra_run(
        reference_tasks.pipeline, config_path=CONF, config_name="training",
        overrides=["optimizer.lr=0.5", "+task_env.train_model.resources.cpu=2", "+task_env.train_model.retries=2"],
    )  # fmt: skip
    assert float(result) == pytest.approx(0.5 * 2)
    (child,) = [a for a in deployed.run(result.name).actions.values() if not a.is_root]
    assert child.task_name == "hydra_ref.train_model" and child.phase_name == "SUCCEEDED"
    assert child.resources["requests"] == {"cpu": "2"}
    assert child.task_spec.task_template.metadata.retries.retries == 2


def test_a_reference_refuses_an_image_and_a_local_run_before_anything_runs(deployed: ControlPlane) -> None:
    ref = reference("hydra_ref.objective")
    with pytest.raises(
        ConfigurationError, match="'task_env.objective.image' cannot be applied to 'hydra_ref.objective'"
    ):
        hydra_run(ref, config_path=CONF, config_name="training", overrides=["+task_env=image"])
    with pytest.raises(ConfigurationError, match="runs on the control plane only: use mode='remote'"):
        hydra_run(ref, config_path=CONF, config_name="training", mode="local")
    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\) 'interruptible'"):
        hydra_run(
            ref,
            config_path=CONF,
            config_name="training",
            overrides=["+task_env.objective.interruptible=true"],
        )
    assert not deployed.requests.of("RunService/CreateRun")


REFERENCE_APP = """
import flyte
import flyte.remote
import hydra
from omegaconf import DictConfig

from hydra_flyte import apply_task_env


@hydra.main(version_base=None, config_path="conf", config_name="training")
def main(cfg: DictConfig):
    flyte.init_from_config()
    reference = flyte.remote.Task.get("hydra_ref.objective", auto_version="latest")
    return flyte.run(apply_task_env(reference, cfg), cfg=cfg, offset=1.0)


if __name__ == "__main__":
    main()
"""


def test_a_hydra_main_app_runs_a_reference_through_the_launcher(
    deployed: ControlPlane, tmp_path: Path
) -> None:
    import json
    import shutil
    import subprocess
    import sys

    shutil.copytree(CONF, tmp_path / "conf")
    (tmp_path / "reference_app.py").write_text(REFERENCE_APP)
    deployed.write_flyte_config(deployed.home / ".flyte" / "config.yaml")
    env = deployed.env()
    env.pop("FLYTECTL_CONFIG", None)  # found through HOME, as a user's would be
    proc = subprocess.run(
        [sys.executable, "reference_app.py", "--multirun", "hydra/launcher=flyte", "+task_env=big",
         "optimizer.lr=0.25,0.5", "hydra.launcher.summary=json-raw"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    jobs = json.loads(line)["jobs"]
    assert [job["value"] for job in jobs] == pytest.approx([0.25 * 2 + 1.0, 0.5 * 2 + 1.0])
    for job in jobs:
        assert deployed.requests.created_run(job["run_name"]).resources["requests"] == {
            "cpu": "3",
            "memory": "3Gi",
        }
