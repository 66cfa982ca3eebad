"""Bad input fails before anything runs, with a message that names the value and the fix."""

from __future__ import annotations

import pytest
from core_tasks import echo_config, no_config, objective

from hydra_flyte import ConfigurationError, NoEndpointError, hydra_run, hydra_sweep
from hydra_flyte.remote.submit import JobSpec, LaunchSettings, run_name


def run(conf_dir: str, **kwargs: object) -> object:
    kwargs.setdefault("mode", "local")
    kwargs.setdefault("config_name", "training")
    kwargs.setdefault("config_path", conf_dir)
    return hydra_run(echo_config, **kwargs)


def test_mode_must_be_local_or_remote(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="mode must be 'local' or 'remote', got 'cluster'"):
        run(conf_dir, mode="cluster")


def test_bad_override_syntax_names_the_override(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="override 'optimizer.lr=\\[0.1' is not valid Hydra override syntax"
    ):
        run(conf_dir, overrides=["optimizer.lr=[0.1"])


def test_override_must_be_strings(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="overrides must be strings"):
        run(conf_dir, overrides=[("optimizer.lr", 0.1)])


def test_override_of_a_missing_key_says_to_append(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        run(conf_dir, overrides=["optimizer.momentum=0.9"])
    message = str(info.value)
    assert "could not compose config 'training'" in message
    assert "optimizer.momentum" in message and "+optimizer.momentum=0.9" in message


def test_missing_config_directory(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="config directory 'no/such/conf' not found"):
        run(conf_dir, config_path="no/such/conf")


def test_missing_config_name(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="could not compose config 'trainign'.*Cannot find primary config 'trainign'"
    ):
        run(conf_dir, config_name="trainign")


def test_missing_group_option(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="(?s)Could not find 'optimizer/rmsprop'.*Available options.*adam.*sgd"
    ):
        run(conf_dir, overrides=["optimizer=rmsprop"])


# -- misspelled overrides: Hydra's message, its line breaks kept, and the closest name suggested --


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("optimizer.lrr=0.1", "Did you mean 'optimizer.lr'?"),  # a key of a group's config
        ("optimizer.weight_decy=0.1", "Did you mean 'optimizer.weight_decay'?"),
        ("modle=vit", "Did you mean 'model'?"),  # a group name, taken for a key
        ("trainng.epochs=3", "Did you mean 'training.epochs'?"),  # a misspelled parent
        ("~optimizer.lrr", "Did you mean 'optimizer.lr'?"),  # deleting a key that is not there
        ("model=vitt", "Did you mean 'model=vit'?"),  # a group's option
    ],
)
def test_a_misspelled_override_gets_the_closest_name(conf_dir: str, override: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        run(conf_dir, overrides=["optimizer=adam", override])
    message = str(info.value)
    assert message.startswith("could not compose config 'training' in ") and hint in message, message
    assert message.count("Did you mean") == 1, message


def test_the_suggestion_reads_the_config_of_the_other_overrides(conf_dir: str) -> None:
    # sgd has `momentum`, adam does not: the key is looked for in the config the job selects.
    with pytest.raises(ConfigurationError, match="Did you mean 'optimizer.momentum'"):
        run(conf_dir, overrides=["optimizer=sgd", "optimizer.momentm=0.5"])


def test_nothing_close_gets_no_suggestion_and_hydras_line_breaks_are_kept(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        run(conf_dir, overrides=["zzzzzz=1"])
    message = str(info.value)
    assert "Did you mean" not in message
    assert "Could not override 'zzzzzz'.\nTo append to your config use +zzzzzz=1" in message
    with pytest.raises(ConfigurationError) as info:
        run(conf_dir, overrides=["model=vitt"])
    lines = str(info.value).splitlines()
    assert "Available options in 'model':" in lines and "\tvit" in lines, lines


def test_a_misspelled_override_of_a_sweep_job_gets_the_closest_name(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        hydra_sweep(objective, config_path=conf_dir, config_name="training", mode="local",
                    overrides=["optimizer.lrr=0.1,0.2"])  # fmt: skip
    assert "Did you mean 'optimizer.lr'?" in str(info.value), str(info.value)
    with pytest.raises(ConfigurationError, match="Did you mean 'model'"):
        hydra_sweep(objective, config_path=conf_dir, config_name="training", mode="local",
                    overrides=["modle=vit", "optimizer.lr=0.1,0.2"])  # fmt: skip


def test_sweep_in_a_single_run_points_to_hydra_sweep(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="hydra_run runs one job, but 'optimizer.lr=0.1,0.2'.*use hydra_sweep"
    ):
        run(conf_dir, overrides=["optimizer.lr=0.1,0.2"])


@pytest.mark.parametrize("value", [0, -1, 2.5, "8", True])
def test_wait_max_workers_must_be_positive(conf_dir: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match="wait_max_workers must be a positive integer or None"):
        run(conf_dir, wait_max_workers=value)


def test_mode_in_run_options_is_refused(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="run_options must not contain 'mode'"):
        run(conf_dir, run_options={"mode": "local"})


def test_unknown_run_option_is_refused_by_flyte(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="unknown run option 'colour'.*flyte.with_runcontext, which accepts"
    ):
        run(conf_dir, run_options={"colour": "blue"})


def test_unknown_task_keyword(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="does not accept 'dataset'"):
        run(conf_dir, dataset="x")


def test_task_without_dictconfig(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="task 'no_config' has no DictConfig parameter"):
        hydra_run(no_config, config_path=conf_dir, config_name="training", mode="local", dataset="x")


def test_sweep_refuses_another_launcher(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="'hydra/launcher=joblib' selects another launcher"):
        hydra_sweep(
            objective,
            config_path=conf_dir,
            config_name="training",
            overrides=["hydra/launcher=joblib"],
            mode="local",
        )


def test_sweep_with_a_bad_key_fails_before_any_job(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="optimizer.nope"):
        hydra_sweep(
            objective,
            config_path=conf_dir,
            config_name="training",
            overrides=["optimizer.nope=1,2"],
            mode="local",
        )


def test_task_env_key_must_be_a_string(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="task_env_key must be a non-empty string"):
        run(conf_dir, task_env_key="")


@pytest.mark.usefixtures("no_flyte_endpoint")
def test_remote_without_an_endpoint_says_so(conf_dir: str) -> None:
    with pytest.raises(NoEndpointError, match="^no Flyte endpoint configured: "):
        run(conf_dir, mode="remote")
    with pytest.raises(NoEndpointError, match="^no Flyte endpoint configured: "):
        hydra_sweep(objective, config_path=conf_dir, config_name="training", overrides=["optimizer.lr=1,2"])


def test_a_sweep_name_becomes_one_name_per_job() -> None:
    settings = LaunchSettings(mode="remote", run_options={"name": "my-sweep"})
    assert run_name(JobSpec(settings=settings, job_num=None)) == "my-sweep"
    names = {run_name(JobSpec(settings=settings, job_num=n)) for n in range(3)}
    assert names == {"my-sweep-0", "my-sweep-1", "my-sweep-2"}
    assert run_name(JobSpec(settings=LaunchSettings(mode="remote"), job_num=2)) is None
