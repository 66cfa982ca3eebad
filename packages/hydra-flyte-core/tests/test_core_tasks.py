"""Finding the task's DictConfig parameter and checking its other arguments."""

from __future__ import annotations

import pytest
from core_tasks import echo_config, no_config, optional_config, two_configs, with_config_param

from hydra_flyte import ConfigurationError, dictconfig_parameter
from hydra_flyte.config.tasks import check_task_kwargs, task_short_name


@pytest.mark.parametrize(
    ("task", "expected"),
    [(echo_config, "cfg"), (with_config_param, "config"), (optional_config, "settings")],
)
def test_dictconfig_parameter_is_found_by_type(task: object, expected: str) -> None:
    assert dictconfig_parameter(task) == expected


def test_task_without_dictconfig_is_refused_naming_the_fix() -> None:
    with pytest.raises(
        ConfigurationError, match=r"task 'no_config' has no DictConfig parameter \(its inputs: dataset: str\)"
    ):
        dictconfig_parameter(no_config)


def test_task_with_two_dictconfigs_is_ambiguous() -> None:
    with pytest.raises(ConfigurationError, match="several DictConfig parameters \\(a, b\\)"):
        dictconfig_parameter(two_configs)


def test_plain_function_is_not_a_task() -> None:
    def plain(cfg):  # type: ignore[no-untyped-def]
        return cfg

    with pytest.raises(ConfigurationError, match="is not a Flyte task: decorate it with @env.task"):
        dictconfig_parameter(plain)


def test_short_name_drops_the_environment() -> None:
    assert echo_config.name == "unit.echo_config"
    assert task_short_name(echo_config) == "echo_config"


def test_unknown_keyword_is_an_error_listing_the_accepted_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"does not accept 'dataset' \(its other inputs: note\)"):
        check_task_kwargs(echo_config, "cfg", {"dataset": "x"})


def test_missing_required_keyword_is_an_error() -> None:
    with pytest.raises(
        ConfigurationError, match=r"task 'optional_config' needs 'dataset': pass dataset=\.\.\."
    ):
        check_task_kwargs(optional_config, "settings", {})


def test_config_parameter_cannot_be_passed_as_an_argument() -> None:
    with pytest.raises(ConfigurationError, match="'cfg' was passed as a task argument"):
        check_task_kwargs(echo_config, "cfg", {"cfg": {}})
