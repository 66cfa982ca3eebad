"""The launch settings schema (hydra_flyte.settings_schema) and what is derived from or checked against it."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

from hydra_flyte import hydra_run, hydra_sweep
from hydra_flyte.launcher_config import FlyteLauncherConf, launcher_node
from hydra_flyte.remote.submit import LaunchSettings, settings_from_config
from hydra_flyte.settings_schema import DEFAULTS, SETTINGS, sdk_settings

PACKAGES = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_type_default_and_one_line_help() -> None:
    assert [s.name for s in SETTINGS][:3] == ["mode", "wait", "wait_max_workers"]
    for s in SETTINGS:
        assert s.help and "\n" not in s.help, s.name
        assert s.sdk, s.name  # every setting is an SDK keyword of at least one entry point
    assert (DEFAULTS["wait_max_workers"], DEFAULTS["submit_max_workers"]) == (32, 16)
    assert DEFAULTS["reconnect_timeout_seconds"] == 600.0


def test_hydra_config_is_derived_from_the_schema() -> None:
    fields = {f.name: f for f in dataclasses.fields(FlyteLauncherConf)}
    assert list(fields) == ["_target_", *(s.name for s in SETTINGS)]
    for s in SETTINGS:
        assert fields[s.name].type == s.type, s.name
    node = launcher_node()["launcher"]
    assert {k: node[k] for k in DEFAULTS if k != "run_options"} == {
        k: v for k, v in DEFAULTS.items() if k != "run_options"
    }
    assert settings_from_config(node) == LaunchSettings() == settings_from_config({})


def test_sdk_keywords_match_the_schema() -> None:
    """hydra_run/hydra_sweep write their keywords out (for readers and type checkers): same names, same defaults."""
    names = {s.name for s in SETTINGS}
    for function in (hydra_run, hydra_sweep):
        params = inspect.signature(function).parameters
        taken = {name for name in params if name in names}
        assert taken == {s.name for s in sdk_settings(function.__name__)}, function.__name__
        for name in taken - {"run_options"}:  # run_options: None there, an empty mapping in the settings
            assert params[name].default == DEFAULTS[name], (function.__name__, name)


def test_no_setting_default_is_written_outside_the_schema() -> None:
    """A parameter or click option named like a setting takes its default from the schema, never a literal."""
    names = {s.name for s in SETTINGS} | {"reconnect_timeout", "max_workers"}
    found = []
    for path in PACKAGES.glob("*/src/**/*.py"):
        if path.name == "settings_schema.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                pairs = list(
                    zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True)
                )
                pairs += [
                    (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
                ]
                for arg, default in pairs:
                    if (
                        arg.arg in names
                        and isinstance(default, ast.Constant)
                        and default.value not in (None,)
                    ):
                        if not isinstance(default.value, bool) and isinstance(default.value, (int, float)):
                            found.append(f"{path.name}:{node.lineno} {arg.arg}={default.value}")
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "default" and isinstance(kw.value, ast.Constant):
                        if kw.value.value in (32, 16, 600, 600.0) and not isinstance(kw.value.value, bool):
                            found.append(f"{path.name}:{node.lineno} default={kw.value.value}")
    assert not found, found
