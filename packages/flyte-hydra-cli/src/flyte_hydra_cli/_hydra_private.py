"""Every private symbol of Hydra this package uses, and nothing else.

- `hydra.plugins.completion_plugin.DefaultCompletionPlugin._query(config_name=..., line=...)`, the
  engine behind Hydra's own bash/zsh/fish completion plugins (their public `query` reads the
  shell's environment and prints) -> no Hydra suggestions (completion of files, tasks and options
  goes on).

Checked at first use, never at import. `tests/test_completion.py` fails loudly when it moves or
changes shape, and runs the fallback on purpose.
"""

from __future__ import annotations

import inspect
from typing import Any

from hydra_flyte.integration import Private, expect


def _completion_query() -> Any:
    from hydra.plugins.completion_plugin import DefaultCompletionPlugin

    query = DefaultCompletionPlugin._query
    params = list(inspect.signature(query).parameters)
    expect(params == ["self", "config_name", "line"], f"DefaultCompletionPlugin._query{params}")
    return query


COMPLETION_QUERY = Private(
    "hydra.plugins.completion_plugin.DefaultCompletionPlugin._query", "hydra-core", _completion_query,
    fallback="no Hydra suggestions in shell completion",
)  # fmt: skip


def completion_query(config_loader: Any, *, config_name: str | None, line: str) -> list[str]:
    """Hydra's completions of the override line `line`, or [] when this Hydra lacks the engine."""
    import contextlib
    import io
    import warnings

    from hydra.plugins.completion_plugin import DefaultCompletionPlugin

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):  # nothing into the shell
        warnings.simplefilter("ignore")
        query = COMPLETION_QUERY.get()
    if query is None:
        return []
    return list(query(DefaultCompletionPlugin(config_loader), config_name=config_name, line=line))
