"""Fails loudly when a private flyte symbol we borrow moves or changes shape (see _flyte_private.py).

If one of these fails after a flyte upgrade: fix flyte_hydra_cli/_flyte_private.py, place any new
`flyte run` option in _run._RUN_OPTION_HANDLING (forwarded, or rejected with a message), then
widen the `flyte` pin in pyproject.toml.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import rich_click as click

from flyte_hydra_cli import _flyte_private as fp
from flyte_hydra_cli._run import _RUN_OPTION_HANDLING, run


def test_flyte_is_the_pinned_minor_release() -> None:
    assert version("flyte").startswith("2.12."), "re-check _flyte_private.py, then widen the pin"


def test_private_symbols_have_the_expected_shape() -> None:
    assert list(inspect.signature(fp.to_click_option).parameters) == [
        "input_name",
        "literal_var",
        "python_type",
        "default_val",
    ]
    assert list(inspect.signature(fp._resolve_default_val).parameters) == [
        "interface",
        "name",
        "default_marker",
        "python_type",
    ]
    assert callable(fp.transform_native_to_typed_interface)
    assert list(inspect.signature(fp.initialize_config).parameters) == [
        "ctx",
        "project",
        "domain",
        "root_dir",
        "images",
        "sync_local_sys_paths",
    ]
    assert callable(fp.CLIConfig.replace) and callable(fp.RunArguments.from_dict)
    assert all(isinstance(option, click.Option) for option in fp.run_options())


def test_every_flyte_run_option_is_forwarded_or_rejected() -> None:
    # A new `flyte run` option must get a decision here, never be accepted and dropped.
    assert sorted(fp.run_option_names()) == sorted(_RUN_OPTION_HANDLING)


def test_run_accepts_every_flyte_run_option_under_the_same_flags() -> None:
    ours = {tuple(p.opts) for p in run.params}
    for option in fp.run_options():
        assert tuple(option.opts) in ours, option.opts
