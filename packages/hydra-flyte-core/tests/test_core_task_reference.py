"""References to deployed tasks (`flyte.remote.Task.get(...)`) in apply_task_env and as the entry task.

The references here are flyte's own objects: a `flyte.remote.TaskDetails` built from a TaskDetails
proto as the control plane sends it (a DictConfig input is a msgpack STRUCT on the wire), and the
lazy reference `flyte.remote.Task.get` returns, whose fetch answers that TaskDetails instead of
asking a control plane. tests-integration/test_task_reference.py runs them on the loopback one.
"""

from __future__ import annotations

from typing import Any

import flyte
import flyte.remote
import pytest
from core_tasks import echo_config
from flyteidl2.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl2.task import task_definition_pb2
from google.protobuf import struct_pb2
from omegaconf import DictConfig, OmegaConf

from hydra_flyte import ConfigurationError, apply_task_env, hydra_run
from hydra_flyte.config.task_env import effective_task_settings
from hydra_flyte.config.tasks import dictconfig_parameter, is_task_reference, task_inputs_for

FLOAT = types_pb2.LiteralType(simple=types_pb2.SimpleType.FLOAT)


def struct_type() -> types_pb2.LiteralType:
    """What a DictConfig (or an untyped dict) input is on the wire."""
    annotation = struct_pb2.Struct()
    annotation.update({"cache-key-metadata": {"serialization-format": "msgpack"}})
    return types_pb2.LiteralType(
        simple=types_pb2.SimpleType.STRUCT, annotation=types_pb2.TypeAnnotation(annotations=annotation)
    )


def details(
    name: str = "training.objective", inputs: dict[str, Any] | None = None
) -> flyte.remote.TaskDetails:
    """A deployed task as GetTaskDetails answers it: id, interface, container (image, resources)."""
    inputs = {"cfg": struct_type(), "offset": FLOAT} if inputs is None else inputs
    variables = [
        interface_pb2.VariableEntry(key=k, value=interface_pb2.Variable(type=t)) for k, t in inputs.items()
    ]
    interface = interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables=variables),
        outputs=interface_pb2.VariableMap(variables=[interface_pb2.VariableEntry(key="o0", value=interface_pb2.Variable(type=FLOAT))]),
    )  # fmt: skip
    cpu = tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.ResourceName.CPU, value="1")
    container = tasks_pb2.Container(
        image="ghcr.io/acme/training:3", args=["a0"], resources=tasks_pb2.Resources(requests=[cpu]),
        env=[literals_pb2.KeyValuePair(key="LOG_LEVEL", value="info")],
    )  # fmt: skip
    task_id = task_definition_pb2.TaskIdentifier(project="p", domain="d", name=name, version="v1")
    template = tasks_pb2.TaskTemplate(type="python", interface=interface, container=container)
    spec = task_definition_pb2.TaskSpec(task_template=template, short_name=name.rsplit(".", 1)[-1])
    return flyte.remote.TaskDetails(task_definition_pb2.TaskDetails(task_id=task_id, spec=spec))


def lazy(deployed: flyte.remote.TaskDetails) -> Any:
    """flyte's lazy reference (what `flyte.remote.Task.get` returns), fetching `deployed` when first used."""

    async def getter() -> flyte.remote.TaskDetails:
        return deployed

    lazy_class = type(flyte.remote.Task.get(deployed.name, version="v1"))
    return lazy_class(deployed.name, getter)


def cfg_with(entry: dict) -> DictConfig:
    return OmegaConf.create({"optimizer": {"lr": 0.1}, "task_env": {"objective": entry}})


def test_references_are_told_from_local_tasks() -> None:
    deployed = details()
    assert is_task_reference(lazy(deployed)) and is_task_reference(deployed)
    assert not is_task_reference(echo_config) and not is_task_reference("training.objective")


@pytest.mark.parametrize("make", [lazy, lambda d: d], ids=["lazy", "details"])
def test_apply_task_env_passes_a_references_settings_to_its_override(make: Any) -> None:
    reference = make(details())
    cfg = cfg_with({"resources": {"cpu": "2", "memory": "4Gi"}, "env_vars": {"A": "1"}, "retries": 3})
    changed = apply_task_env(reference, cfg)
    assert is_task_reference(changed) and changed is not reference
    settings = effective_task_settings(changed)
    assert settings["resources"] == {"cpu": "2", "memory": "4Gi"}
    assert settings["env_vars"] == {"A": "1"} and settings["retries"] == 3
    assert settings["image"] == "ghcr.io/acme/training:3"  # the deployed image, unchanged
    assert effective_task_settings(reference)["resources"] == {
        "cpu": "1"
    }  # the reference itself is untouched


def test_a_reference_is_checked_against_what_a_deployed_tasks_override_accepts() -> None:
    # A lazy reference's override takes only **kwargs; the settings are those of TaskDetails.override.
    with pytest.raises(ConfigurationError) as info:
        apply_task_env(lazy(details()), cfg_with({"interruptible": True}))
    message = str(info.value)
    assert "'task_env.objective' has unknown setting(s) 'interruptible'." in message
    assert "task.override accepts short_name, resources, retries, timeout, env_vars" in message
    assert "plus image" not in message and "accepts ," not in message


def test_a_references_image_is_fixed_when_it_is_deployed() -> None:
    with pytest.raises(
        ConfigurationError, match="'task_env.objective.image' cannot be applied to 'training.objective'"
    ):
        apply_task_env(lazy(details()), cfg_with({"image": "ghcr.io/acme/other:1"}))


def test_an_override_that_tells_nothing_is_checked_against_a_tasks_override() -> None:
    class Wrapper:  # an object whose override passes **kwargs on, not a flyte reference
        name = "training.objective"

        def override(self, **kwargs: Any) -> Any:
            return ("overridden", kwargs)

    assert apply_task_env(Wrapper(), cfg_with({"queue": "gpu"})) == ("overridden", {"queue": "gpu"})
    with pytest.raises(ConfigurationError, match="unknown setting\\(s\\) 'queu'. Did you mean 'queue'?"):
        apply_task_env(Wrapper(), cfg_with({"queu": "gpu"}))


def test_a_references_config_parameter_is_its_one_untyped_dict_input() -> None:
    assert dictconfig_parameter(lazy(details())) == "cfg"
    with pytest.raises(ConfigurationError, match="has no input that can take the composed config"):
        dictconfig_parameter(lazy(details(inputs={"offset": FLOAT})))
    with pytest.raises(ConfigurationError, match="several untyped dict inputs \\(a, b\\)"):
        dictconfig_parameter(lazy(details(inputs={"a": struct_type(), "b": struct_type()})))


def test_a_references_config_goes_as_the_payload_its_deployed_task_reads() -> None:
    from flyte.types import TypeEngine
    from flyteplugins.omegaconf.codec import deserialize_omegaconf

    cfg = OmegaConf.create({"optimizer": {"lr": 0.1}, "tag": "${optimizer.lr}"})
    sent = task_inputs_for(lazy(details()), {"cfg": cfg, "offset": 1.0})
    assert isinstance(sent["cfg"], dict) and sent["offset"] == 1.0
    assert deserialize_omegaconf(sent["cfg"]) == cfg  # what the deployed task's DictConfig transformer reads
    literal_type = TypeEngine.to_literal_type(dict)  # how Flyte sends it by the deployed interface
    assert literal_type.simple == types_pb2.SimpleType.STRUCT
    assert task_inputs_for(echo_config, {"cfg": cfg}) == {"cfg": cfg}  # a local task takes the DictConfig


def test_a_reference_does_not_run_locally(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="runs on the control plane only: use mode='remote'"):
        hydra_run(lazy(details()), config_path=conf_dir, config_name="training", mode="local")


def test_a_reference_without_an_endpoint_says_so_before_reading_it(
    conf_dir: str, no_flyte_endpoint: None
) -> None:
    from hydra_flyte import NoEndpointError

    fetched: list[str] = []

    async def getter() -> flyte.remote.TaskDetails:
        fetched.append("fetched")
        return details()

    reference = type(flyte.remote.Task.get("training.objective", version="v1"))("training.objective", getter)
    with pytest.raises(NoEndpointError, match="no Flyte endpoint configured"):
        hydra_run(reference, config_path=conf_dir, config_name="training")
    assert fetched == []
