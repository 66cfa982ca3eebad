"""`flyte hydra run`'s launch-setting options are built from core's settings schema."""

from __future__ import annotations

from flyte_hydra_cli._run import run
from flyte_hydra_cli._run_settings import Settings
from hydra_flyte.settings_schema import DEFAULTS, cli_settings


def test_one_option_per_setting_with_a_flag() -> None:
    params = {p.name: p for p in run.params}
    for s in cli_settings():
        option = params[s.name]
        assert s.cli.split("/")[0] in option.opts, s.name
        assert option.default == s.cli_default, s.name
    assert params["wait_max_workers"].default == DEFAULTS["wait_max_workers"]
    assert params["submit_max_workers"].default is None  # not given: core's default applies
    assert "16" in params["submit_max_workers"].help


def test_settings_read_the_launch_settings_as_attributes() -> None:
    settings = Settings(
        config_path=None,
        config_name=None,
        multirun=False,
        mode="remote",
        task_env_key="task_env",
        hydra_overrides=(),
        follow=False,
        launch={"wait": False, "dry_run": True},
    )
    assert (settings.wait, settings.dry_run, settings.resume) == (False, True, None)
