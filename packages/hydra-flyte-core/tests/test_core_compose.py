"""ReusingConfigLoader gives every job exactly the config Hydra composes for it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import setup_globals
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf

from hydra_flyte.compat.hydra_private import hydra_app
from hydra_flyte.compose.configs import ReusingConfigLoader

EXAMPLES_CONF = Path(__file__).resolve().parents[3] / "examples" / "conf"


def flags(node: object, path: str = "") -> list[tuple[str, object, object]]:
    """Every node's struct/readonly flags and value type, so equality covers more than values."""
    out = []
    container = isinstance(node, (DictConfig, ListConfig))
    if container and (node._is_none() or node._is_missing() or node._is_interpolation()):
        out.append((path, type(node).__name__, node._value()))
    elif container:
        out.append((path, node._get_node_flag("struct"), node._get_node_flag("readonly")))
        items = (
            node.items_ex(resolve=False)
            if isinstance(node, DictConfig)
            else enumerate(node._iter_ex(resolve=False))
        )
        for key, _ in items:
            child = node._get_node(key)
            out.extend(flags(child, f"{path}.{key}"))
    else:
        out.append((path, type(node).__name__, getattr(node, "_value", lambda: None)()))
    return out


def assert_identical(ours: DictConfig, hydras: DictConfig) -> None:
    assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydras)
    assert OmegaConf.to_yaml(ours, resolve=False) == OmegaConf.to_yaml(hydras, resolve=False)
    assert flags(ours) == flags(hydras)


def compare_sweep(
    conf_dir: str | None, config_name: str, jobs: list[list[str]], master_overrides: list[str] = ()
) -> dict:
    with hydra_app(conf_dir, job_name="compose_test") as hydra:
        setup_globals()
        loader = hydra.config_loader
        master = loader.load_configuration(
            config_name=config_name, overrides=list(master_overrides), run_mode=RunMode.MULTIRUN
        )
        reusing = ReusingConfigLoader(loader)
        for job in jobs:
            ours = reusing.load_sweep_config(master, list(job))
            again = reusing.load_sweep_config(master, list(job))
            assert ours is not again, "each call gets its own config"
            assert_identical(ours, loader.load_sweep_config(master, list(job)))
        return reusing.stats


def grid(*axes: list[str]) -> list[list[str]]:
    return [list(combo) for combo in itertools.product(*axes)]


def test_value_sweep_reuses_one_base(conf_dir: str) -> None:
    jobs = grid(
        [f"optimizer.lr={lr}" for lr in ("0.001", "1e-3", "0.1", "null", "'0.5'")],
        ["training.epochs=1", "training.epochs=2"],
    )
    stats = compare_sweep(conf_dir, "training", jobs)
    assert (stats["reused"], stats["full"]) == (2 * len(jobs), 0)


@pytest.mark.parametrize(
    "job",
    [
        ["+training.grad_clip=1.0"],
        ["++optimizer.lr=0.05", "++training.extra=true"],
        ["~training.warmup_steps"],
        ["+training.layers=[1,2,3]", "+training.opts={a: 1, b: 'x,y'}"],
        ["optimizer.lr=${training.epochs}"],
        ["+tag2=${model.name}_${optimizer.lr}"],
        ["training.batch_size=32", "optimizer=sgd"],
        ["model=vit", "optimizer.lr=2"],
        ["+task_env=a100", "optimizer.lr=3"],
        ["+task_env=small", "++task_env.pipeline.resources.cpu='9'"],
        ['optimizer.name="quoted, with comma"'],
        ["training.epochs=true"],
    ],
)
def test_edge_cases_match_hydra(conf_dir: str, job: list[str]) -> None:
    compare_sweep(conf_dir, "training", [job])


def test_group_sweep_composes_each_group_combination_once(conf_dir: str) -> None:
    jobs = grid(["model=resnet", "model=vit"], ["optimizer.lr=0.1", "optimizer.lr=0.2", "optimizer.lr=0.3"])
    stats = compare_sweep(conf_dir, "training", jobs)
    assert (stats["reused"], stats["full"]) == (2 * len(jobs), 0)


def test_master_hydra_overrides_and_override_dirname_settings(conf_dir: str) -> None:
    master = [
        "hydra.job.config.override_dirname.kv_sep=_",
        "hydra.job.config.override_dirname.item_sep=__",
        "hydra.job.config.override_dirname.exclude_keys=[training.epochs]",
        "hydra.sweep.dir=/tmp/sweep-${now:%H}",
    ]
    jobs = grid(["optimizer.lr=0.1", "optimizer.lr=0.2"], ["training.epochs=1", "training.epochs=2"])
    compare_sweep(conf_dir, "training", jobs, master_overrides=master)


def test_the_examples_sweeps_match_hydra() -> None:
    jobs = grid(
        ["model=resnet", "model=vit"], ["optimizer.lr=0.001", "optimizer.lr=0.01", "optimizer.lr=0.1"]
    )
    jobs += grid(["+task_env=a10g", "+task_env=a100"], ["optimizer.lr=0.001", "optimizer.lr=0.01"])
    jobs += grid(["optimizer.lr=0.001", "optimizer.lr=0.1"], ["training.epochs=10", "training.epochs=20"])
    compare_sweep(str(EXAMPLES_CONF), "training", jobs)


def test_structured_config_only() -> None:
    from core_tasks import echo_config  # noqa: F401  (registers nothing; keeps the module imported)
    from test_core_sdk_local import _StructuredRoot  # noqa: F401  registers core_structured

    compare_sweep(
        None, "core_structured", grid(["optimizer.lr=0.1", "optimizer.lr=0.2"], ["epochs=1", "+extra=2"])
    )


def test_hydra_overrides_in_a_job_fall_back_to_hydra(conf_dir: str) -> None:
    stats = compare_sweep(
        conf_dir, "training", [["++hydra.job.env_set.FOO=1", "optimizer.lr=0.1"], ["+optimizer@opt2=sgd"]]
    )
    assert stats["full"] == 4


def _sweep_configs(
    conf_dir: str, launcher: list[str], jobs: list[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Every job's config and Hydra config as the task saw them, in a real multirun; the loaders made."""
    from hydra.core.hydra_config import HydraConfig

    from hydra_flyte.engine.registration import ensure_launcher_registered

    loaders: list[ReusingConfigLoader] = []
    init = ReusingConfigLoader.__init__

    def recording_init(self: ReusingConfigLoader, inner: Any) -> None:
        init(self, inner)
        loaders.append(self)

    monkeypatch.setattr(ReusingConfigLoader, "__init__", recording_init)
    seen = []

    def task(cfg: DictConfig) -> None:
        hydra_node = HydraConfig.get()
        job = {k: hydra_node.job[k] for k in ("num", "id", "override_dirname")}
        sweep_dir = str(hydra_node.sweep.dir)
        seen.append((OmegaConf.to_yaml(cfg), flags(cfg), job, list(hydra_node.overrides.task), sweep_dir,
                     str(hydra_node.runtime.output_dir).replace(sweep_dir, "<SWEEP>")))  # fmt: skip

    with hydra_app(conf_dir, job_name="compose_test") as hydra:
        ensure_launcher_registered()
        hydra.multirun(
            config_name="training",
            task_function=task,
            overrides=[
                *launcher,
                "hydra.sweep.dir=sweeps/${now:%H-%M-%S-%f}",
                *jobs,
                "+tag2=${optimizer.lr}",
            ],
        )
    return seen, loaders


def test_launch_takes_the_configs_batch_validation_composed(
    conf_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = ["model=resnet,vit", "optimizer.lr=0.1,0.2,0.1"]  # a repeated job too
    basic, _ = _sweep_configs(conf_dir, ["hydra/launcher=basic"], jobs, monkeypatch)
    ours, (loader,) = _sweep_configs(
        conf_dir, ["hydra/launcher=flyte", "hydra.launcher.mode=local"], jobs, monkeypatch
    )
    assert len(ours) == 6 and loader.stats["validated_and_launched"] == 6
    assert loader.stats["reused"] == 6, "composed for the validation only, not again for the launch"
    assert not loader._validated, "nothing kept after the launch"
    assert [job[:4] for job in ours] == [job[:4] for job in basic]
    assert [job[5] for job in ours] == [job[5] for job in basic]
    assert len({job[4] for job in ours}) == 1, "every job in the master's sweep dir (one ${now:})"


def test_only_batch_validation_leaves_configs_for_the_launch(conf_dir: str) -> None:
    with hydra_app(conf_dir, job_name="compose_test") as hydra:
        loader = hydra.config_loader
        master = loader.load_configuration(config_name="training", overrides=[], run_mode=RunMode.MULTIRUN)
        reusing = ReusingConfigLoader(loader)
        direct = reusing.load_sweep_config(master, ["optimizer.lr=0.3"])
        assert not reusing._validated
        launched = reusing.load_job_config(master, ["optimizer.lr=0.3"])
        assert launched is not direct and reusing.stats["validated_and_launched"] == 0
        assert_identical(launched, direct)


def test_errors_are_hydras_errors(conf_dir: str) -> None:
    with hydra_app(conf_dir, job_name="compose_test") as hydra:
        loader = hydra.config_loader
        master = loader.load_configuration(config_name="training", overrides=[], run_mode=RunMode.MULTIRUN)
        reusing = ReusingConfigLoader(loader)
        for bad in (["optimizer.nope=1"], ["+optimizer.lr=1"], ["~training.nothing"]):
            with pytest.raises(ConfigCompositionException) as ours:
                reusing.load_sweep_config(master, bad)
            with pytest.raises(ConfigCompositionException) as hydras:
                loader.load_sweep_config(master, bad)
            assert str(ours.value) == str(hydras.value)
            assert str(ours.value.__cause__) == str(hydras.value.__cause__)
    assert not GlobalHydra.instance().is_initialized()
