"""Shell completion of Hydra overrides, answered by Hydra's own completion engine.

click drives completion (`_FLYTE_COMPLETE=bash_complete flyte ...`); this module turns a
partial override into Hydra's suggestions: config keys (`optimizer.` -> `optimizer.lr=`),
group options (`optimizer=` -> `optimizer=adam`) and Hydra's own groups
(`hydra/launcher=` -> `hydra/launcher=basic`). Completion must never print a traceback into
the user's shell, so every failure here means "no suggestions".
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from click.parser import split_arg_string

from hydra_flyte.integration import is_hydra_override  # noqa: F401 - one rule, core's (light: stdlib only)


def hydra_suggestions(
    *,
    config_dir: str | None,
    config_name: str | None,
    previous: Sequence[str],
    word: str,
    multirun: bool,
) -> list[str]:
    """Hydra's completions of `word`, given the overrides already on the command line."""
    # Hydra splits its completion line on whitespace: overrides containing spaces cannot take part.
    usable = [o for o in previous if o and not any(c.isspace() for c in o)]
    for attempt in (usable, []):
        try:
            found = _query(
                config_dir=config_dir, config_name=config_name, words=attempt, word=word, multirun=multirun
            )
        except Exception:  # noqa: BLE001 - completion must stay silent
            found = []
        if found or not attempt:
            return found
    return []


def _query(
    *, config_dir: str | None, config_name: str | None, words: Sequence[str], word: str, multirun: bool
) -> list[str]:
    from hydra import initialize, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from ._hydra_private import completion_query

    GlobalHydra.instance().clear()
    context = (
        initialize_config_dir(config_dir=os.path.abspath(config_dir), version_base=None)
        if config_dir
        else initialize(config_path=None, version_base=None)
    )
    with context:
        loader = GlobalHydra.instance().hydra.config_loader  # type: ignore[union-attr]
        line = " ".join([*(["--multirun"] if multirun else []), *words, word])
        if not word:
            line += " "
        return completion_query(loader, config_name=config_name, line=line)


def split_assignment(flags: Sequence[str], incomplete: str) -> tuple[str, str, str] | None:
    """Recognise bash's split of `--cfg optimizer=ad` into the words `--cfg`, `optimizer`, `=`, `ad`.

    bash breaks words at `=` (it is in COMP_WORDBREAKS), so click sees `=` as a word of its own
    and only `ad` as the word being completed. Returns (flag, `optimizer=ad`, `optimizer=`), the
    whole override and the prefix to strip from Hydra's answers (bash replaces only `ad`), or
    None when the line has no such split.
    """
    words_env = os.environ.get("COMP_WORDS")
    cword_env = os.environ.get("COMP_CWORD")
    if words_env is None or cword_env is None:
        return None
    try:
        words = split_arg_string(words_env)
        args = words[1 : int(cword_env)]
    except ValueError:
        return None
    if len(args) < 3 or args[-1] != "=" or args[-3] not in flags:
        return None
    prefix = f"{args[-2]}="
    return args[-3], prefix + incomplete, prefix
