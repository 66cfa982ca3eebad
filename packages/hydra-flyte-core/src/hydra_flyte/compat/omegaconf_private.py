"""Every use of OmegaConf's private symbols in hydra_flyte: its interpolation parser memoised, and what the job runner needs.

The job runner's part (`JOB_RUNNER_OMEGACONF_SYMBOLS`, `job_runner_omegaconf`) is at the end of
this module. The parser:

Every time OmegaConf resolves an interpolation (`${now:%H-%M-%S}`, `${hydra.job.num}`, ...), it
parses the string with its ANTLR grammar, the costliest step of a resolution, even when the same
string was parsed a moment before. A sweep resolves the same few strings for every job: the
sweep dir and subdir when the job's output dir is chosen, the log file name when the job's
logging is configured. A parse tree depends on the string alone and OmegaConf only reads it
(its GrammarVisitor evaluates the tree against the node being resolved), so while
`interpolations_parsed_once` is active, OmegaConf's `parse` (imported by name into
`omegaconf.base` and `omegaconf._utils`) is replaced by one that keeps each tree by its string.
Strings that do not parse raise as before and are not kept.

tests/test_core_omegaconf_private.py fails loudly if OmegaConf moves these names. At run time
they are checked when a launch first needs them: if a release moved either, OmegaConf parses
every string itself (slower, same values) after one warning.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hydra_flyte.compat.fallback import Private, expect

PARSE_IMPORTERS = ("omegaconf.base", "omegaconf._utils")  # modules that call `parse` by that name
PARSE_NAME = "parse"
MAX_TREES = 1024  # distinct strings kept; cleared when exceeded

_lock = threading.Lock()
_depth = 0
_originals: dict[str, Callable[..., Any]] = {}


def _parse_importers() -> list[Any]:
    modules = [importlib.import_module(name) for name in PARSE_IMPORTERS]
    parses = [getattr(module, PARSE_NAME) for module in modules]
    expect(all(callable(p) for p in parses), f"{PARSE_NAME} is not callable")
    expect(len({id(getattr(p, "__wrapped__", p)) for p in parses}) == 1, f"the modules' {PARSE_NAME} differ")
    try:  # called as parse(value, parser_rule, lexer_mode)
        inspect.signature(parses[0]).bind("${x}", "configValue", "DEFAULT_MODE")
    except TypeError as exc:
        raise TypeError(
            f"{PARSE_NAME}{inspect.signature(parses[0])} does not take (value, parser_rule, lexer_mode)"
        ) from exc
    return modules


PARSE = Private(
    " and ".join(f"{m}.{PARSE_NAME}" for m in PARSE_IMPORTERS),
    "omegaconf",
    _parse_importers,
    fallback="OmegaConf parses each interpolation string every time",
    memo=False,  # checked at each outermost entry: what is there may be swapped (tests, profilers)
)


@contextlib.contextmanager
def interpolations_parsed_once() -> Iterator[None]:
    """While active (re-entrant, across threads), OmegaConf parses each interpolation string once."""
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            modules = PARSE.get() or []  # none: this OmegaConf moved them, parse as it does
            try:
                if modules:
                    memo = _memoised(getattr(modules[0], PARSE_NAME))
                for module in modules:
                    _originals[module.__name__] = getattr(module, PARSE_NAME)
                    setattr(module, PARSE_NAME, memo)
            except BaseException:
                _restore()
                _depth -= 1
                raise
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _restore()


def _restore() -> None:
    for name, original in _originals.items():
        setattr(importlib.import_module(name), PARSE_NAME, original)
    _originals.clear()


def _memoised(parse: Callable[..., Any]) -> Callable[..., Any]:
    trees: dict[tuple[str, str, str], Any] = {}

    def parse_once(value: str, parser_rule: str = "configValue", lexer_mode: str = "DEFAULT_MODE") -> Any:
        key = (value, parser_rule, lexer_mode)
        tree = trees.get(key)
        if tree is None:
            tree = parse(value, parser_rule, lexer_mode)
            if len(trees) >= MAX_TREES:
                trees.clear()
            trees[key] = tree
        return tree

    parse_once.__wrapped__ = parse  # type: ignore[attr-defined]
    return parse_once


# -- what hydra_flyte's job runner (compose.job_runner, compose.snapshots) uses of OmegaConf beyond its public API --

#: (module, name) imported by name.
JOB_RUNNER_OMEGACONF = (("omegaconf._utils", "_is_special"), ("omegaconf._utils", "get_omega_conf_dumper"))
#: Instance attributes of DictConfig/ListConfig and their nodes, read through `__dict__` for speed.
CONTENT = "_content"
PARENT = "_parent"
#: Node methods called directly (the public equivalents resolve, validate or copy).
NODE_METHODS = (
    ("omegaconf.base", "Node", "_is_none"),
    ("omegaconf.base", "Node", "_is_missing"),
    ("omegaconf.base", "Node", "_is_interpolation"),
    ("omegaconf.base", "Node", "_value"),
    ("omegaconf.base", "Node", "_set_parent"),
    ("omegaconf.basecontainer", "BaseContainer", "_set_item_impl"),
    ("omegaconf.base", "Container", "_get_node"),
)


def _job_runner_names() -> bool:
    for module, name in JOB_RUNNER_OMEGACONF:
        expect(
            callable(getattr(importlib.import_module(module), name, None)), f"{module}.{name} is not callable"
        )
    for module, cls, name in NODE_METHODS:
        expect(callable(getattr(getattr(importlib.import_module(module), cls), name, None)), f"{cls}.{name}")
    from omegaconf import DictConfig

    cfg = DictConfig({"a": {"b": 1}})
    expect(isinstance(cfg.__dict__.get(CONTENT), dict), f"DictConfig.__dict__[{CONTENT!r}] is not a dict")
    expect(cfg._get_node("a").__dict__.get(PARENT) is cfg, f"a node's __dict__[{PARENT!r}] is not its parent")
    return True


JOB_RUNNER_OMEGACONF_SYMBOLS = Private(
    ", ".join([*(f"{m}.{n}" for m, n in JOB_RUNNER_OMEGACONF), *(f"{c}.{n}" for _, c, n in NODE_METHODS), CONTENT, PARENT]),
    "omegaconf", _job_runner_names, fallback="Hydra's own hydra.core.utils.run_job runs each job",
)  # fmt: skip


def job_runner_omegaconf() -> Any:
    """What the job runner calls, as attributes, once JOB_RUNNER_OMEGACONF_SYMBOLS found it all.

    `is_special`, `get_omega_conf_dumper`; and for the node methods, callables taking the node first:
    `is_none(node)`, `is_missing(node)`, `is_interpolation(node)`, `value(node)` (C-level
    `operator.methodcaller`s: no Python frame per node), `set_parent(node, parent)`,
    `set_item_impl(container, key, node)`, `get_node(container, key)`.
    """
    from operator import methodcaller
    from types import SimpleNamespace

    names: dict[str, Any] = {
        name.lstrip("_"): getattr(importlib.import_module(m), name) for m, name in JOB_RUNNER_OMEGACONF
    }
    names.update(
        is_none=methodcaller("_is_none"),
        is_missing=methodcaller("_is_missing"),
        is_interpolation=methodcaller("_is_interpolation"),
        value=methodcaller("_value"),
        set_parent=lambda node, parent: node._set_parent(parent),
        set_item_impl=lambda container, key, node: container._set_item_impl(key, node),
        get_node=lambda container, key: container._get_node(key),
    )
    return SimpleNamespace(**names)
