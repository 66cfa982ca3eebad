"""task_env: config entries become task.override(...) calls, with clear errors for bad input."""

from __future__ import annotations

import sys

import flyte
import pytest
from core_tasks import echo_config
from kubernetes.client import V1Container, V1PodSpec
from omegaconf import OmegaConf

from hydra_flyte import ConfigurationError, apply_task_env

inline_template = flyte.PodTemplate(
    pod_spec=V1PodSpec(
        containers=[V1Container(name="main", image="old:1"), V1Container(name="sidecar", image="side:1")]
    ),
    primary_container_name="main",
    labels={"team": "ml"},
)
templated_env = flyte.TaskEnvironment(name="templated", image="example.com/t:1", pod_template=inline_template)
named_env = flyte.TaskEnvironment(name="named", image="example.com/n:1", pod_template="cluster-template")


@templated_env.task
async def with_inline_template(cfg: dict) -> str:
    return "ok"


@named_env.task
async def with_named_template(cfg: dict) -> str:
    return "ok"


def cfg_with(entries: dict, key: str = "task_env") -> object:
    return OmegaConf.create({"model": {"name": "resnet"}, key: entries})


def test_resources_mapping_becomes_flyte_resources() -> None:
    cfg = cfg_with({"echo_config": {"resources": {"cpu": "2", "memory": "8Gi", "gpu": "A100:1"}}})
    task = apply_task_env(echo_config, cfg)
    assert task.resources == flyte.Resources(cpu="2", memory="8Gi", gpu="A100:1")
    assert echo_config.resources is None, "the original task must not change"


def test_other_override_keywords_pass_through() -> None:
    cfg = cfg_with({"echo_config": {"retries": 3, "env_vars": {"A": "1"}}})
    task = apply_task_env(echo_config, cfg)
    assert task.retries.count == 3
    assert task.env_vars == {"A": "1"}


def test_no_entry_returns_the_task_itself() -> None:
    assert apply_task_env(echo_config, cfg_with({"other_task": {"retries": 1}})) is echo_config
    assert apply_task_env(echo_config, OmegaConf.create({"a": 1})) is echo_config
    assert apply_task_env(echo_config, cfg_with(None)) is echo_config


def test_renamed_key() -> None:
    cfg = cfg_with({"echo_config": {"resources": {"cpu": "3"}}}, key="task_environment")
    assert apply_task_env(echo_config, cfg) is echo_config
    task = apply_task_env(echo_config, cfg, task_env_key="task_environment")
    assert task.resources.cpu == "3"


def test_interpolations_are_resolved() -> None:
    cfg = OmegaConf.create({"cpus": "4", "task_env": {"echo_config": {"resources": {"cpu": "${cpus}"}}}})
    assert apply_task_env(echo_config, cfg).resources.cpu == "4"


def test_image_builds_a_new_pod_template() -> None:
    cfg = cfg_with({"echo_config": {"image": "ghcr.io/acme/train:2", "primary_container_name": "main"}})
    template = apply_task_env(echo_config, cfg).pod_template
    assert isinstance(template, flyte.PodTemplate)
    assert template.primary_container_name == "main"
    assert [(c.name, c.image) for c in template.pod_spec.containers] == [("main", "ghcr.io/acme/train:2")]


def test_image_without_container_name_uses_primary() -> None:
    template = apply_task_env(echo_config, cfg_with({"echo_config": {"image": "img:3"}})).pod_template
    assert template.primary_container_name == "primary"
    assert template.pod_spec.containers[0].image == "img:3"


def test_image_deep_copies_an_inline_template_and_changes_only_the_image() -> None:
    cfg = cfg_with({"with_inline_template": {"image": "new:2"}})
    template = apply_task_env(with_inline_template, cfg).pod_template
    assert template is not inline_template
    assert [(c.name, c.image) for c in template.pod_spec.containers] == [
        ("main", "new:2"),
        ("sidecar", "side:1"),
    ]
    assert template.labels == {"team": "ml"}
    assert inline_template.pod_spec.containers[0].image == "old:1", "the task's own template must not change"


def test_image_with_a_named_pod_template_is_an_error() -> None:
    cfg = cfg_with({"with_named_template": {"image": "new:2"}})
    with pytest.raises(ConfigurationError, match="uses the named pod template 'cluster-template'"):
        apply_task_env(with_named_template, cfg)


def test_primary_container_name_without_image_is_an_error() -> None:
    cfg = cfg_with({"echo_config": {"primary_container_name": "main"}})
    with pytest.raises(
        ConfigurationError, match=r"'task_env.echo_config.primary_container_name' is set but .* is not"
    ):
        apply_task_env(echo_config, cfg)


def test_task_env_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="config key 'task_env' must be a mapping of task names"):
        apply_task_env(echo_config, OmegaConf.create({"task_env": [1, 2]}))


def test_entry_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="'task_env.echo_config' must be a mapping .* got str"):
        apply_task_env(echo_config, cfg_with({"echo_config": "a100"}))


def test_unknown_override_keyword_lists_the_accepted_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        apply_task_env(echo_config, cfg_with({"echo_config": {"gpus": 2}}))
    message = str(info.value)
    assert "'task_env.echo_config' has unknown setting(s) 'gpus'" in message
    assert "resources" in message and "retries" in message and "image and primary_container_name" in message


def test_unknown_resource_name() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'task_env.echo_config.resources' has unknown resource\(s\) 'cpus'"
    ):
        apply_task_env(echo_config, cfg_with({"echo_config": {"resources": {"cpus": "2"}}}))


def test_bad_resource_value() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'task_env.echo_config.resources' is not a valid flyte.Resources"
    ):
        apply_task_env(echo_config, cfg_with({"echo_config": {"resources": {"cpu": [1, 2, 3]}}}))


def test_resources_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match=r"'task_env.echo_config.resources' must be a mapping"):
        apply_task_env(echo_config, cfg_with({"echo_config": {"resources": "big"}}))


def test_missing_kubernetes_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    monkeypatch.setitem(sys.modules, "kubernetes.client", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'hydra-flyte-core\[image\]'"):
        apply_task_env(echo_config, cfg_with({"echo_config": {"image": "img:1"}}))


def test_not_a_config() -> None:
    with pytest.raises(ConfigurationError, match="expects the composed config"):
        apply_task_env(echo_config, "cfg")
