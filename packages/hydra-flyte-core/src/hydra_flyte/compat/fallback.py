"""Private symbols of Flyte, Hydra and OmegaConf, each looked up and checked once, at first use.

Every private symbol hydra-flyte borrows is a fast path (or a convenience) with a public way to
do the same thing. A `Private` names one symbol and knows how to find and check it; `get()`
returns it, or None when the installed release moved it or changed its shape. On None the caller
takes the public path (slower, same results) and one warning goes to stderr, naming the symbol
and the installed version, so the user knows why and we learn of the move. Nothing is looked up
at import time.

The fence modules (`compat/flyte_private.py`, `compat/hydra_private.py`, `compat/omegaconf_private.py`, the job
runner, and flyte_hydra_cli's `_flyte_private.py`) declare their symbols with `Private`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
_warned: set[str] = set()
_all: list[Private] = []
_MISSING = object()


def installed_version(distribution: str) -> str:
    """The installed version of a distribution, or "(version unknown)"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "(version unknown)"


def warn_once(
    symbol: str, distribution: str, *, problem: str, fallback: str, consequence: str = "slower, same results"
) -> None:
    """One line on stderr per symbol and process: what moved, in which release, what we do instead."""
    with _lock:
        if symbol in _warned:
            return
        _warned.add(symbol)
    print(
        f"hydra-flyte: warning: {symbol} {problem} in {distribution} {installed_version(distribution)}; "
        f"{fallback} ({consequence}). Please report it to hydra-flyte.",
        file=sys.stderr,
        flush=True,
    )


class Private:
    """A private symbol of `distribution`, found and checked by `find` on first use.

    `find()` returns the object, or raises (ImportError, AttributeError, TypeError, ValueError,
    AssertionError, ...) when the symbol is missing or its shape is not the one expected.
    """

    def __init__(
        self,
        symbol: str,
        distribution: str,
        find: Callable[[], Any],
        *,
        fallback: str,
        memo: bool = True,
        consequence: str = "slower, same results",
    ) -> None:
        self.symbol = symbol
        self.consequence = consequence  # what the fallback costs, said in the warning
        self.memo = memo  # False: checked at every use (for what tests or users swap at run time)
        self.distribution = distribution
        self.fallback = fallback
        self._find = find
        self._value: Any = _MISSING
        self.problem: str | None = None
        _all.append(self)

    def get(self, *, warn: bool = True) -> Any:
        """The symbol, or None (after one warning, unless `warn` is false) when this release does not have it as expected."""
        value = self._value if self.memo else _MISSING
        if value is _MISSING:
            with _lock:
                if self._value is _MISSING or not self.memo:
                    try:
                        self._value = self._find()
                        self.problem = None
                    except Exception as exc:  # noqa: BLE001 - any failure to find it means: not usable
                        self._value = None
                        self.problem = _describe(exc)
                value = self._value
        if value is None and warn:
            warn_once(
                self.symbol, self.distribution, problem=self.problem or "is missing", fallback=self.fallback,
                consequence=self.consequence,
            )  # fmt: skip
        return value

    def available(self) -> bool:
        return self.get() is not None

    def forget(self) -> None:
        """Look the symbol up again at next use (tests that remove or restore a symbol)."""
        with _lock:
            self._value = _MISSING
            self.problem = None
            _warned.discard(self.symbol)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (ImportError, AttributeError)):
        return f"is missing ({type(exc).__name__}: {exc})"
    return f"has changed shape ({type(exc).__name__}: {exc})" if str(exc) else "has changed shape"


def expect(condition: bool, what: str) -> None:
    """Raise (for `Private.get`'s warning) when a shape check fails."""
    if not condition:
        raise TypeError(what)


def forget_all() -> None:
    """Every symbol looked up again at next use, every warning allowed again (tests)."""
    for private in list(_all):
        private.forget()
    with _lock:
        _warned.clear()


def registered() -> list[Private]:
    return list(_all)
