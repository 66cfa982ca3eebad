"""The package plugs into `flyte` without making other `flyte` commands import anything heavy."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from cli_helpers import flat, flyte, hydra_run, summary_rows


def test_registered_on_flyte_cli_entry_point() -> None:
    (ep,) = [ep for ep in entry_points(group="flyte.plugins.cli.commands") if ep.name == "hydra"]
    assert ep.value == "flyte_hydra_cli:hydra"
    assert ep.dist is not None and ep.dist.name == "flyte-hydra-cli"


def test_entry_module_imports_only_click() -> None:
    code = (
        "import sys, flyte_hydra_cli\n"
        "heavy = [m for m in ('hydra', 'hydra_flyte', 'omegaconf', 'flyte_hydra_cli._run') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_flyte_help_lists_hydra_without_importing_it() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flyte.cli.main import main\n"
        "r = CliRunner().invoke(main, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'hydra' in r.output\n"
        "print([m for m in ('hydra', 'hydra_flyte', 'flyte_hydra_cli._run') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"DO_NOT_TRACK": "1", "PATH": ""}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_help_of_hydra_group() -> None:
    result = flyte("hydra", "--help")
    assert result.exit_code == 0
    text = flat(result.output)
    assert "Usage: flyte hydra [OPTIONS] COMMAND [ARGS]..." in text
    assert "run Run a Flyte task with a Hydra-composed config" in text


def test_help_of_run(project) -> None:
    result = hydra_run("--help")
    assert result.exit_code == 0
    text = flat(result.output)
    assert "SCRIPT TASK_NAME" in text
    for flag in (
        "--config-path",
        "--config-name",
        "--multirun",
        "--mode",
        "--wait/--no-wait",
        "--wait-max-workers",
        "--task-env-key",
        "--hydra-override",
        "--local",
        "--follow",
        "--name",
        "--env",
        "--label",
        "--queue",
        "--max-action-concurrency",
        "--version",
        "--tracked",
        "--project",
        "--domain",
        "--dry-run",
        "--submit-max-workers",
        "--fail-fast",
        "--abort-on-interrupt",
    ):
        assert flag in text, flag
    # The scripts of the current directory are not listed as if they were subcommands.
    assert "fixture_tasks.py" not in text


def test_help_of_run_fits_a_terminal_says_what_runs_print_and_cuts_nothing(project) -> None:
    from flyte_hydra_cli._flyte_private import run_options
    from flyte_hydra_cli._run_option_handling import RUN_OPTION_HANDLING

    result = flyte("hydra", "run", "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) <= 130, f"{len(lines)} lines"
    assert "…" not in result.stdout, [line for line in lines if "…" in line]  # no help text cut off
    text = flat(result.stdout)
    assert "one line per job for --multirun" not in text  # local runs print a table, as remote ones do
    assert "one summary table" in text and "stderr" in text
    # Every `flyte run` option is documented: forwarded ones as options, refused ones by name.
    for option in run_options():
        flag = next(o for o in option.opts if o.startswith("--"))
        assert flag in text, flag
    refused = sorted(name for name, how in RUN_OPTION_HANDLING.items() if how == "rejected")
    assert refused == ["run_domain", "run_project", "tui"]
    assert "except --tui, --run-project and --run-domain (refused" in text
    # --report works on a plain install now: its help needs no pip line (which was cut off).
    assert "needs pip install" not in text


def test_help_of_script_lists_tasks_taking_a_dictconfig(project) -> None:
    result = hydra_run("fixture_tasks.py", "--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    for task in ("score", "describe", "steps", "explode"):
        assert task in text
    assert "plain" not in text


def test_help_of_task_shows_override_flag_and_inputs(project) -> None:
    result = hydra_run("fixture_tasks.py", "score", "--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "--cfg" in text and "--offset" in text and "--hydra-override" in text
    assert "Objective: the learning rate scaled" in text

    result = hydra_run("fixture_tasks.py", "describe", "--help")
    text = flat(result.output)
    assert "--config" in text and "--label" in text and "--cfg" not in text


def test_beside_flyteplugins_hydra_the_first_use_says_so_with_the_fix(project, tmp_path) -> None:
    # A fake installed flyteplugins-hydra: a dist-info directory (METADATA only) on the path.
    import os
    import subprocess
    import sys

    info = tmp_path / "site" / "flyteplugins_hydra-2.12.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flyteplugins-hydra\nVersion: 2.12.1\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]),
    }
    code = "import sys; from flyte.cli.main import main; sys.argv = ['flyte', *sys.argv[1:]]; main()"
    args = [
        "hydra",
        "run",
        "--local",
        "--config-path",
        "conf",
        "--config-name",
        "main",
        "fixture_tasks.py",
        "score",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["value / error"] for r in summary_rows(proc.stdout)] == ["1.0"]
    assert proc.stderr.count("flyteplugins-hydra 2.12.1 is installed too") == 1, proc.stderr
    assert "pip uninstall flyteplugins-hydra" in proc.stderr
