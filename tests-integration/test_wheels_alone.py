"""Each package, built as a wheel and installed alone into a clean venv, works through its own entry point.

- hydra-flyte-core alone: the SDK runs a grid and a custom sweeper (Optuna), with no launcher package.
- hydra-flyte-launcher alone (with core, its dependency): the example's @hydra.main script.
- flyte-hydra-cli alone (with core) plus hydra-optuna-sweeper: `flyte hydra run` with Optuna.
- `pip install hydra-flyte-launcher` / `flyte-hydra-cli` by name: task_env.image and the sweep report
  work (core's [image] and [report] extras come with them); core alone says how to get the report.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from wheels import build_wheels, clean_venv, installed, run

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
OPTUNA = "hydra-optuna-sweeper>=1.2,<1.4"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    project = tmp_path / "example"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns("outputs", "multirun", "__pycache__"))
    return project


@pytest.fixture
def no_endpoint_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


CORE_PROBE = textwrap.dedent(
    """
    import json
    from hydra_flyte import hydra_run, hydra_sweep
    from hydra_tasks import objective

    single = hydra_run(objective, config_path="conf", config_name="training", overrides=["optimizer.lr=0.5"], mode="local")
    grid = hydra_sweep(objective, config_path="conf", config_name="training",
                       overrides=["model=small,large", "optimizer.lr=1,2"], mode="local")
    optuna = hydra_sweep(objective, config_path="conf", config_name="training",
                         overrides=["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(0.1,1)"],
                         mode="local")
    print(json.dumps({"single": float(single), "grid": [float(r) for r in grid], "optuna": [float(r) for r in optuna]}))
    """
)


def test_core_alone_runs_sweeps_and_a_custom_sweeper(
    wheels: dict[str, Path], tmp_path: Path, no_endpoint_env: dict[str, str]
) -> None:
    python = clean_venv(tmp_path / "venv", wheels["core"], OPTUNA)
    assert {"hydra-flyte-core", "hydra-optuna-sweeper"} <= installed(python)
    assert not {"hydra-flyte-launcher", "flyte-hydra-cli"} & installed(python)
    project = tmp_path / "project"
    shutil.copytree(HERE / "conf", project / "conf")
    shutil.copy(HERE / "hydra_tasks.py", project / "hydra_tasks.py")
    (project / "probe.py").write_text(CORE_PROBE)
    result = run(python, "probe.py", cwd=project, env=no_endpoint_env)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["single"] == pytest.approx(1.0)
    assert figures["grid"] == pytest.approx([2.0, 4.0, 10.0, 20.0])
    assert len(figures["optuna"]) == 2


def test_launcher_alone_runs_the_example_script(
    wheels: dict[str, Path], tmp_path: Path, example: Path, no_endpoint_env: dict[str, str]
) -> None:
    python = clean_venv(tmp_path / "venv", wheels["launcher"], wheels["core"], "scikit-learn", OPTUNA)
    assert "flyte-hydra-cli" not in installed(python)
    single = run(python, "train.py", "hydra/launcher=flyte", "hydra.launcher.mode=local", "training.epochs=3",
                 cwd=example, env=no_endpoint_env)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    assert re.search(r"^│ +0 │ .*│ SUCCEEDED │ [0-9.]+ +│", single.stdout, re.MULTILINE), (
        single.stdout
    )  # its summary
    optuna = run(python, "train.py", "--multirun", "hydra/launcher=flyte", "hydra.launcher.mode=local",
                 "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(1e-3,1e-1)",
                 "training.epochs=3", cwd=example, env=no_endpoint_env)  # fmt: skip
    assert optuna.returncode == 0, optuna.stderr[-3000:]
    assert "Best value: " in optuna.stdout + optuna.stderr
    remote = run(python, "train.py", "hydra/launcher=flyte", cwd=example, env=no_endpoint_env)
    assert remote.returncode != 0 and "no Flyte endpoint configured:" in remote.stderr


def test_cli_alone_runs_an_optuna_sweep(
    wheels: dict[str, Path], tmp_path: Path, example: Path, no_endpoint_env: dict[str, str]
) -> None:
    python = clean_venv(tmp_path / "venv", wheels["cli"], wheels["core"], "scikit-learn", OPTUNA)
    assert "hydra-flyte-launcher" not in installed(python)
    flyte = python.parent / "flyte"
    sweep = run(flyte, "hydra", "run", "--local", "--multirun", "--config-path", "conf", "--config-name", "training",
                "--hydra-override", "hydra/sweeper=optuna", "--hydra-override", "hydra.sweeper.n_trials=3",
                "train.py", "pipeline", "--dataset", "digits",
                "--cfg", "optimizer.lr=interval(1e-3,1e-1)", "--cfg", "training.epochs=3",
                cwd=example, env=no_endpoint_env)  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    # The summary: one row per trial, each with its value.
    assert len(re.findall(r"^│ +\d+(?: ★)? │.*│ SUCCEEDED │ [0-9.]+ +│", sweep.stdout, re.MULTILINE)) == 3, (
        sweep.stdout
    )


IMAGE_PROBE = textwrap.dedent(
    """
    import flyte
    from omegaconf import OmegaConf
    from hydra_flyte import apply_task_env

    env = flyte.TaskEnvironment(name="training", image="example.com/base:1")

    @env.task
    async def pipeline(x: int) -> int:
        return x

    cfg = OmegaConf.create({"task_env": {"pipeline": {"image": "ghcr.io/acme/training:2"}}})
    template = apply_task_env(pipeline, cfg).pod_template
    print(type(template).__name__, [(c.name, c.image) for c in template.pod_spec.containers])
    """
)


REPORT_PROBE = textwrap.dedent(
    """
    from hydra_flyte import sweep_report
    from hydra_flyte.state.manifest import Manifest

    manifest = Manifest.create("sweep", mode="local")
    manifest.plan([(0, ["optimizer.lr=0.1"], None), (1, ["optimizer.lr=0.2"], None)])
    manifest.finished(0, phase="SUCCEEDED", value=0.5)
    manifest.finished(1, phase="SUCCEEDED", value=0.25)
    manifest.save()
    try:
        print(sweep_report("sweep").name)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
    """
)


@pytest.mark.parametrize("package", ["hydra-flyte-launcher", "flyte-hydra-cli"])
def test_a_plain_install_by_name_builds_the_image_preset_pod_template_and_the_report(
    package: str, wheels: dict[str, Path], tmp_path: Path, no_endpoint_env: dict[str, str]
) -> None:
    # `pip install hydra-flyte-launcher`: by name, our wheels found locally, everything else
    # (kubernetes and plotly included, through core's [image] and [report] extras) resolved from the index.
    wheel_dir = wheels["core"].parent
    python = clean_venv(tmp_path / "venv", "--find-links", wheel_dir, package)
    assert {package, "hydra-flyte-core", "kubernetes", "plotly"} <= installed(python)
    (tmp_path / "probe.py").write_text(IMAGE_PROBE)
    result = run(python, "probe.py", cwd=tmp_path, env=no_endpoint_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "PodTemplate [('primary', 'ghcr.io/acme/training:2')]"
    (tmp_path / "report_probe.py").write_text(REPORT_PROBE)
    report = run(python, "report_probe.py", cwd=tmp_path, env=no_endpoint_env)
    assert report.returncode == 0, report.stderr[-3000:]
    assert report.stdout.strip().splitlines()[-1] == "flyte-sweep-report.html"


def test_core_alone_says_how_to_install_the_report(
    wheels: dict[str, Path], tmp_path: Path, no_endpoint_env: dict[str, str]
) -> None:
    python = clean_venv(tmp_path / "venv", wheels["core"])
    assert "plotly" not in installed(python)
    (tmp_path / "report_probe.py").write_text(REPORT_PROBE)
    report = run(python, "report_probe.py", cwd=tmp_path, env=no_endpoint_env)
    assert report.returncode == 0, report.stderr[-3000:]
    assert report.stdout.strip().splitlines()[-1] == (
        "ConfigurationError: the sweep report needs plotly, which is not installed: "
        'pip install "hydra-flyte-core[report]"  (or: pip install plotly)'
    )
    assert not (tmp_path / "sweep" / "flyte-sweep-report.html").exists()
