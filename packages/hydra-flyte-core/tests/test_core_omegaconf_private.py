"""The memoised interpolation parser (see _omegaconf_private.py): same results, each string parsed once."""

from __future__ import annotations

import threading

import omegaconf._utils
import omegaconf.base
import pytest
from omegaconf import OmegaConf
from omegaconf import grammar_parser as omegaconf_grammar_parser
from omegaconf.errors import GrammarParseError, InterpolationResolutionError

from hydra_flyte.compat import omegaconf_private as _omegaconf_private
from hydra_flyte.compat.omegaconf_private import interpolations_parsed_once

CONFIG = {
    "a": 1,
    "b": "${a}",
    "s": "x-${a}-${b}",
    "nested": "${oc.select:missing_key,${s}}",
    "dict": {"k": "${..a}", "deep": "${dict.k}"},
    "esc": "\\${a}",
    "quoted": "${oc.decode:'[1, 2]'}",
    "env": "${oc.env:HF_TEST_UNSET,default}",
    "list": ["${a}", "${s}", "${list.0}"],
    "lit": "${oc.create:{x: '${a}'}}",
}


def resolved() -> object:
    return OmegaConf.to_container(OmegaConf.create(CONFIG), resolve=True)


def test_parse_is_where_omegaconf_calls_it() -> None:
    """Loud failure if OmegaConf stops calling `parse` by that name in these modules."""
    for name in _omegaconf_private.PARSE_IMPORTERS:
        module = __import__(name, fromlist=["_"])
        assert getattr(module, _omegaconf_private.PARSE_NAME) is omegaconf_grammar_parser.parse, name


def test_results_are_omegaconfs_and_each_string_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = resolved()
    calls: list[str] = []
    real = omegaconf_grammar_parser.parse

    def counting(value: str, *args: object) -> object:
        calls.append(value)
        return real(value, *args)

    for name in _omegaconf_private.PARSE_IMPORTERS:
        monkeypatch.setattr(f"{name}.parse", counting)
    with interpolations_parsed_once():
        assert omegaconf.base.parse is not counting
        first = resolved()
        parsed_first = len(calls)
        second = resolved()
    assert first == second == expected
    assert parsed_first > 0 and len(calls) == parsed_first, "the second resolution parsed nothing"
    assert len(calls) == len(set(calls))
    assert omegaconf.base.parse is counting and omegaconf._utils.parse is counting, "restored"


def test_errors_are_omegaconfs_and_not_kept() -> None:
    bad = OmegaConf.create({"y": "${missing}"})
    with interpolations_parsed_once():
        for _ in range(2):
            with pytest.raises(GrammarParseError, match="no viable alternative"):
                OmegaConf.create({"x": "${a"})  # parsed (through omegaconf._utils) when created
            with pytest.raises(InterpolationResolutionError, match="missing"):
                bad.y  # noqa: B018


def test_reentrant_and_shared_by_threads() -> None:
    original = omegaconf.base.parse
    results: list[object] = []
    with interpolations_parsed_once():
        patched = omegaconf.base.parse
        with interpolations_parsed_once():
            assert omegaconf.base.parse is patched
        assert omegaconf.base.parse is patched, "still active in the outer scope"
        threads = [threading.Thread(target=lambda: results.append(resolved())) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert omegaconf.base.parse is original
    assert results == [resolved()] * 4
