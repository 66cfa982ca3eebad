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
