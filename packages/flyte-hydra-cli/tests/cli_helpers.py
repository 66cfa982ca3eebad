"""Helpers for the flyte-hydra-cli tests: drive `flyte` in-process, flatten rich output.

(A uniquely named module rather than conftest.py, so that importing it cannot pick up another
package's conftest when several test suites share one pytest session.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from click.testing import CliRunner, Result

_BOX = re.compile(r"[│╭╮╰╯─]+")


def flat(text: str) -> str:
    """Output with rich's boxes and line wrapping removed, for matching whole sentences."""
    return " ".join(_BOX.sub(" ", text).split())


def flyte(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run `flyte <args>` in-process through flyte's real CLI entry point (plugins included)."""
    from flyte.cli.main import main

    # Wide enough that rich does not break long flags such as --max-action-concurrency.
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "240", **(env or {})}, prog_name="flyte")


def hydra_run(*args: str) -> Result:
    """`flyte hydra run <args>`."""
    return flyte("hydra", "run", *args)


def complete(words: Sequence[str], incomplete: str = "", shell: str = "bash") -> list[str]:
    """Ask `flyte` for completions through click's protocol, as the installed shell hook does."""
    from flyte.cli.main import main

    all_words = ["flyte", *words, incomplete]
    env = {
        "_FLYTE_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": " ".join(all_words),
        "COMP_CWORD": str(len(all_words) - 1),
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="flyte")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    if shell == "bash":
        return [line.split(",", 1)[1] for line in lines if "," in line]
    # zsh: triples of type, value, help
    return [lines[i + 1] for i in range(0, len(lines) - 2, 3)]


LOCAL = ("--local", "--config-path", "conf", "--config-name", "main")


def summary_rows(stdout: str) -> list[dict[str, str]]:
    """The rows of the summary table printed on stdout: one dict per job, column name -> cell text.

    The job cell loses its best-job mark (see `best_job`); every other cell is as printed.
    """
    lines = stdout.splitlines()
    header = next(
        (i for i, line in enumerate(lines) if line.startswith("│") and line.split("│")[1].strip() == "job"),
        None,
    )
    if header is None:
        return []
    names = [cell.strip() for cell in lines[header].strip("│").split("│")]
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("│"):
            break
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        row = dict(zip(names, cells, strict=True))
        row["job"] = row["job"].replace("★", "").strip()
        rows.append(row)
    return rows


def best_job(stdout: str) -> str | None:
    """The job number the summary table marks best, if any."""
    for line in stdout.splitlines():
        if line.startswith("│") and "★" in line.split("│")[1]:
            return line.split("│")[1].replace("★", "").strip()
    return None


def single_value(stdout: str) -> str:
    """The value cell of a single run's summary (one row)."""
    (row,) = summary_rows(stdout)
    return row["value / error"]
