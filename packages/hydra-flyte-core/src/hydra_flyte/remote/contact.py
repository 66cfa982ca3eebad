"""Lost contact is not failure: waiting rides out an unreachable control plane, for a bounded time.

While a sweep waits, the control plane may restart or the network drop. flyte reconnects by itself
first (measured against the loopback control plane: a cut watch stream is re-subscribed five times
with backoff, about 36 s, before `Run.wait` raises UNAVAILABLE "Connection refused"). hydra_flyte
then keeps retrying, with backoff, for `reconnect_timeout_seconds` more, counted from the first
failure one of the sweep's waiters saw since the last successful answer (one clock per sweep: the
runs share one control plane). When the limit passes, every run not known to have ended gets a
ContactLostError, recorded UNCONFIRMED (not FAILED): the runs themselves may well go on, and
`flyte hydra status <manifest> --wait` reattaches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hydra_flyte.errors import ContactLostError
from hydra_flyte.remote.submission_pool import is_transient
from hydra_flyte.settings_schema import DEFAULTS

T = TypeVar("T")

#: Ten minutes: a control-plane restart (a rolling deploy, a rescheduled pod, a database
#: failover) is typically over within a few minutes; twice that and more is left as margin, while a
#: control plane that is really gone is still reported within a bounded time.
DEFAULT_RECONNECT_TIMEOUT_SECONDS: float = DEFAULTS["reconnect_timeout_seconds"]
_MAX_BACKOFF_SECONDS = 15.0


def is_contact_lost(exc: BaseException) -> bool:
    """True when we could not ask (unreachable, unavailable, timed out), as opposed to an answer."""
    return is_transient(exc)


class Contact:
    """The outage clock of one sweep's waiting, shared by its waiters."""

    def __init__(
        self,
        timeout_seconds: float = DEFAULT_RECONNECT_TIMEOUT_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout_seconds = float(timeout_seconds)
        self._clock = clock
        self._sleep = sleep
        self._since: float | None = None  # when contact was first found lost; None: in contact
        self.last_error: BaseException | None = None
        self._lock = threading.Lock()

    def restored(self) -> None:
        """An answer came back: the outage (if any) is over."""
        with self._lock:
            self._since = None

    def failed(self, exc: BaseException | None = None) -> float:
        """A call could not reach the control plane: the seconds left before giving up (<= 0: give up)."""
        with self._lock:
            if exc is not None:
                self.last_error = exc
            now = self._clock()
            if self._since is None:
                self._since = now
            return self.timeout_seconds - (now - self._since)

    def expired(self) -> bool:
        """Whether contact has been lost for longer than the limit."""
        with self._lock:
            return self._since is not None and self._clock() - self._since >= self.timeout_seconds

    def call(self, function: Callable[[], T], *, what: str, run: Any = None) -> T:
        """`function()`, retried with backoff while the control plane cannot be reached, up to the limit.

        Raises ContactLostError (with the last connection error as its cause) once the limit passes.
        """
        backoff = 1.0
        while True:
            try:
                value = function()
            except Exception as exc:
                if not is_contact_lost(exc):
                    raise
                left = self.failed(exc)
                if left <= 0:
                    raise ContactLostError(
                        what=what, seconds=self.timeout_seconds, cause=exc, run=run
                    ) from exc
                self._sleep(min(backoff, left))
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            self.restored()
            return value

    def lost(self, run: Any) -> ContactLostError:
        """The error of a run still being waited on when the limit passed."""
        cause = self.last_error or ConnectionError("the control plane could not be reached")
        return ContactLostError(
            what=f"waiting for run {getattr(run, 'name', run)}",
            seconds=self.timeout_seconds,
            cause=cause,
            run=run,
        )
