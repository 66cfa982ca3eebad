"""Shell completion of `flyte hydra run`: Hydra's suggestions for `--cfg`, `--hydra-override`
and `--config-name`, as bash and zsh ask for them.
"""

from __future__ import annotations

from pathlib import Path

import rich_click as click
from click.shell_completion import CompletionItem

from ._completion import hydra_suggestions, is_hydra_override, split_assignment
from ._run_settings import _APP_OVERRIDES, _HYDRA_OVERRIDES


def _run_ctx(ctx: click.Context) -> click.Context | None:
    """The context of the `run` level, from any context below it."""
    current: click.Context | None = ctx
    # Not isinstance(): rich_click's command classes answer isinstance() loosely.
    while current is not None and not getattr(current.command, "is_hydra_run_level", False):
        current = current.parent
    return current


def _complete_overrides(
    ctx: click.Context, *, hydra_namespace: bool, incomplete: str, strip: str = ""
) -> list[CompletionItem]:
    """Hydra's suggestions for an app override (`--cfg`) or a Hydra override (`--hydra-override`)."""
    run_ctx = _run_ctx(ctx)
    if run_ctx is None:
        return []
    run_params = run_ctx.params
    config_path = run_params.get("config_path")
    if config_path and not Path(config_path).is_dir():
        return []
    previous = [
        *(run_params.get(_HYDRA_OVERRIDES) or ()),
        *(ctx.params.get(_HYDRA_OVERRIDES) or () if ctx is not run_ctx else ()),
        *(ctx.params.get(_APP_OVERRIDES) or ()),
    ]
    found = hydra_suggestions(
        config_dir=config_path,
        config_name=run_params.get("config_name"),
        previous=previous,
        word=incomplete,
        multirun=bool(run_params.get("multirun")),
    )
    found = [s for s in found if is_hydra_override(s) == hydra_namespace]
    return [CompletionItem(s[len(strip) :] if strip and s.startswith(strip) else s) for s in found]


def _complete_app_override(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _complete_overrides(ctx, hydra_namespace=False, incomplete=incomplete)


def _complete_hydra_override(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    if not incomplete:
        incomplete = "hydra"
    return _complete_overrides(ctx, hydra_namespace=True, incomplete=incomplete)


def _complete_config_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    config_path = ctx.params.get("config_path")
    if not config_path or not Path(config_path).is_dir():
        return []
    names = sorted(p.stem for p in Path(config_path).glob("*.yaml"))
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def _bash_split_override(
    ctx: click.Context, incomplete: str, app_flag: str | None
) -> list[CompletionItem] | None:
    """Complete `--cfg key=<TAB>` as bash delivers it (see `split_assignment`)."""
    flags = ["--hydra-override", *([app_flag] if app_flag else [])]
    split = split_assignment(flags, incomplete)
    if split is None:
        return None
    flag, word, prefix = split
    return _complete_overrides(ctx, hydra_namespace=flag == "--hydra-override", incomplete=word, strip=prefix)
