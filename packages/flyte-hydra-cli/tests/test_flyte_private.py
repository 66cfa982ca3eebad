"""Fails loudly when a private flyte symbol we borrow moves or changes shape (see _flyte_private.py),
and runs each public fallback on purpose, checking it gives the same results.

If a shape test fails after a flyte upgrade: fix flyte_hydra_cli/_flyte_private.py and place any
new `flyte run` option in _run_option_handling.RUN_OPTION_HANDLING (forwarded, or rejected with a message).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest
import rich_click as click
from cli_helpers import summary_rows

from flyte_hydra_cli import _flyte_private as fp
from flyte_hydra_cli._run import run
from flyte_hydra_cli._run_option_handling import RUN_OPTION_HANDLING as _RUN_OPTION_HANDLING
from flyte_hydra_cli._run_option_handling import RUN_OPTION_HELP
from hydra_flyte.compat import fallback as _fallback


@pytest.fixture(autouse=True)
def _fresh_lookups():
    _fallback.forget_all()
    yield
    _fallback.forget_all()


def test_flyte_is_in_the_supported_range() -> None:
    major, minor = (int(p) for p in version("flyte").split(".")[:2])
    assert major == 2 and minor >= 9, "outside flyte>=2.9,<3: re-check _flyte_private.py and the pins"


def test_private_symbols_are_found_with_the_expected_shape(capsys) -> None:
    assert fp.RUN_OPTIONS.get() is not None, fp.RUN_OPTIONS.problem
    assert fp.INPUT_CONVERTERS.get() is not None, fp.INPUT_CONVERTERS.problem
    assert fp.INITIALIZE_CONFIG.get() is not None, fp.INITIALIZE_CONFIG.problem
    assert capsys.readouterr().err == "", "no warning when everything is where we expect it"
    assert all(isinstance(option, click.Option) for option in fp.run_options())


def test_every_flyte_run_option_is_forwarded_or_rejected() -> None:
    # A new `flyte run` option must get a decision here, never be accepted and dropped.
    assert sorted(fp.run_option_names()) == sorted(_RUN_OPTION_HANDLING)
    # ... and the one-line help `flyte hydra run --help` shows for it.
    assert sorted(RUN_OPTION_HELP) == sorted(_RUN_OPTION_HANDLING)


def test_run_accepts_every_flyte_run_option_under_the_same_flags() -> None:
    ours = {tuple(p.opts) for p in run.params}
    for option in fp.run_options():
        assert tuple(option.opts) in ours, option.opts


def _shape(option: click.Option) -> tuple:
    default = option.default if option.default not in (None, (), False) else None
    if type(default).__name__ == "Sentinel":  # click 8.3's UNSET
        default = None
    return (tuple(option.opts), option.name, option.is_flag, option.multiple, default, option.type.name)


def test_our_copy_of_the_run_options_is_flytes() -> None:
    flytes = sorted(_shape(o) for o in fp.RUN_OPTIONS.get().options())
    assert sorted(_shape(o) for o in fp.public_run_options()) == flytes


def test_run_options_without_flytes_list_are_our_copy_with_one_warning(monkeypatch, capsys) -> None:
    from flyte.cli import _run as flyte_run

    monkeypatch.delattr(flyte_run, "RunArguments")
    first, second = fp.run_options(), fp.run_option_names()
    assert [o.opts for o in first] == [o.opts for o in fp.public_run_options()]
    assert sorted(second) == sorted(_RUN_OPTION_HANDLING)
    err = capsys.readouterr().err
    assert err.count("hydra-flyte: warning:") == 1, err
    assert "flyte.cli._run.RunArguments.options" in err and f"flyte {version('flyte')}" in err


def test_a_new_flyte_run_option_means_our_copy_not_a_dropped_option(monkeypatch, capsys) -> None:
    from flyte.cli import _run as flyte_run

    real = flyte_run.RunArguments.options

    def with_a_new_one() -> list:
        return [*real(), click.Option(["--brand-new"], is_flag=True)]

    monkeypatch.setattr(flyte_run.RunArguments, "options", staticmethod(with_a_new_one))
    assert "brand_new" not in fp.run_option_names()
    assert "has changed shape" in capsys.readouterr().err


def _task():
    import fixture_tasks

    return fixture_tasks.score


@pytest.fixture
def tasks_on_path(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "project"))


def test_task_inputs_without_flytes_converters_are_plain_options(tasks_on_path, monkeypatch, capsys) -> None:
    from flyte.cli import _params

    flytes = {o.name: o for o in fp.task_input_options(_task(), skip="cfg")}
    monkeypatch.delattr(_params, "to_click_option")
    _fallback.forget_all()
    ours = {o.name: o for o in fp.task_input_options(_task(), skip="cfg")}
    assert sorted(ours) == sorted(flytes) == ["offset"]
    assert ours["offset"].type.convert("1.5", None, None) == 1.5 and ours["offset"].default == 0.0
    assert not ours["offset"].required
    err = capsys.readouterr().err
    assert err.count("hydra-flyte: warning:") == 1 and "to_click_option" in err, err


def _cli_with(deleted: str, *args: str, cwd) -> subprocess.CompletedProcess:
    """`flyte hydra run ...` in a fresh process, with one flyte symbol deleted first (module:attribute)."""
    # flyte's own modules are loaded first: a release that moved a symbol still imports.
    code = "import sys, importlib; import flyte.cli.main as m, flyte.cli._run, flyte.cli._common; "
    if deleted:
        module, attribute = deleted.split(":")
        code += f"delattr(importlib.import_module({module!r}), {attribute!r}); "
    code += "sys.argv = ['flyte', *sys.argv[1:]]; m.main()"
    return subprocess.run(
        [sys.executable, "-c", code, "hydra", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "deleted",
    [
        "",
        "flyte.cli._run:RunArguments",
        "flyte.cli._params:to_click_option",
        "flyte.cli._run:_resolve_default_val",
        # (transform_native_to_typed_interface shares the fallback of the two above; flyte's local
        # runner imports it itself by name, so deleting it here would break flyte, not test us.)
        "flyte.cli._common:initialize_config",
    ],
)
def test_a_local_sweep_gives_the_same_results_with_each_symbol_deleted(project, deleted) -> None:
    args = ["--local", "--multirun", "--config-path", "conf", "--config-name", "main", "fixture_tasks.py", "score",
            "--offset", "0.5", "--cfg", "optimizer.lr=0.1,0.2"]  # fmt: skip
    proc = _cli_with(deleted, *args, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert [r["value / error"] for r in summary_rows(proc.stdout)] == ["1.5", "2.5"], proc.stdout
    warnings = proc.stderr.count("hydra-flyte: warning:")
    assert warnings == (1 if deleted else 0), proc.stderr
    if deleted:
        assert deleted.rsplit(":", 1)[-1] in proc.stderr and f"flyte {version('flyte')}" in proc.stderr
