"""A quota is backpressure, not failure: a submission the control plane turns away with RESOURCE_EXHAUSTED waits for capacity.

A hosted Flyte control plane limits how many runs (or actions) may be unfinished at once and answers
RESOURCE_EXHAUSTED past it; the SDK does not retry that on CreateRun. A job so answered has not been
submitted: it is tried again until capacity frees, and its record stays PLANNED meanwhile, so Ctrl-C
and `--resume` treat it as not yet submitted.

While the quota is full, one waiting job at a time probes it, with backoff (0.5 s doubling to 2 s,
jittered); the others wait their turn, sending nothing. When a job gets in, room may have freed for
more: the job waiting longest tries at once, and so on while they get in. Freed slots are taken in
a chain, at the cost of one refused try per chain, instead of every waiting job polling on its own:
each try costs an UploadInputs and a CreateRun on the control plane, and time on the SDK's one
event loop, which the submissions that do get in share. The launch's own runs are waited on
meanwhile (remote.waiting), and when one ends a waiting job tries at once (`room_freed`): a quota
full of the sweep's own runs hands each freed slot over within moments, not at the next probe.

Progress goes to stderr: a line when the quota is first met, a line every 15 s while jobs wait, and
one when they all got in (how many waited, the longest wait). The wait is bounded by
`capacity_timeout_seconds`: how long the quota may stay full with no submission of the launch
getting in. Past it the jobs still waiting (and those not yet started) end with
`WaitingForCapacityError`: not submitted, recorded PLANNED, and `--resume` submits them later.
Which errors are a full quota, and the retries around this, are in remote.submission_pool.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from hydra_flyte.errors import WaitingForCapacityError
from hydra_flyte.settings_schema import DEFAULTS

DEFAULT_CAPACITY_TIMEOUT_SECONDS: float = DEFAULTS["capacity_timeout_seconds"]
BASE_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 2.0
#: How long a job waiting its turn sleeps at most before it looks again (if no chain woke it).
TURN_SECONDS = 30.0
PROGRESS_SECONDS = 15.0


class Capacity:
    """The jobs of one launch waiting for capacity: their backoff, the progress lines, and the bound.

    `timeout_seconds`: how long the quota may stay full with no submission of the launch getting in
    before the waiting jobs give up (WaitingForCapacityError). `stop()` (Ctrl-C, the launch ending)
    ends every wait at once, with the same error.
    """

    def __init__(
        self,
        timeout_seconds: float = DEFAULT_CAPACITY_TIMEOUT_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
        base_seconds: float = BASE_SECONDS,
        max_backoff_seconds: float = MAX_BACKOFF_SECONDS,
        progress_seconds: float = PROGRESS_SECONDS,
    ) -> None:
        self.timeout_seconds = float(timeout_seconds)
        self._clock = clock
        self._stream = stream
        self._base = base_seconds
        self._cap = max_backoff_seconds
        self._progress_every = progress_seconds
        self._lock = threading.Lock()
        self._woken = threading.Condition(
            self._lock
        )  # a waiting job's sleep, ended early by `got_in` or `stop`
        self._stopped = False
        self._prober: int | None = None  # the thread of the job probing the quota now
        self._probes = 0  # its tries so far: its backoff
        self._waiting = 0  # jobs waiting now
        self._since: float | None = None  # when the quota was met with no submission getting in since
        self._last_line = 0.0
        self._expired: str | None = None  # why waiting gave up, once it has (it stays given up)
        self._got_in_since_full = 0
        #: How long each job that waited for capacity waited before it got in, in seconds.
        self.waits: list[float] = []

    # -- a job's side -----------------------------------------------------------------------------

    def begin(self, reason: str) -> float:
        """A job was turned away for the first time (`reason`: the control plane's message): it waits from now."""
        now = self._clock()
        with self._lock:
            self._waiting += 1
            first = self._since is None
            if first:
                self._since = now
                self._got_in_since_full = 0
                self._last_line = now
        if first:
            self._say(
                f"[hydra-flyte] the control plane's quota is full ({reason}): waiting for capacity, "
                f"trying again with backoff, for up to {self.timeout_seconds:g} s with no submission getting in "
                "(capacity_timeout_seconds); the jobs waiting are not submitted yet"
            )
        return now

    def pause(self, reason: str) -> None:
        """Wait before a turned-away job's next try; WaitingForCapacityError past the bound or once stopped.

        The job probing the quota sleeps its backoff; any other sleeps until a job got in (then
        room may be free) or the prober left, TURN_SECONDS at most.
        """
        with self._lock:
            if self._expired is None and self._since is not None:
                if self._clock() - self._since >= self.timeout_seconds:
                    self._expired = (
                        f"the control plane's quota stayed full for {self.timeout_seconds:g} s with no submission "
                        f"getting in ({reason})"
                    )
            expired = self._expired
            now = self._clock()
            line = None
            if expired is None and now - self._last_line >= self._progress_every:
                self._last_line = now
                line = (
                    f"[hydra-flyte] waiting for capacity: {self._waiting} job(s) not submitted yet, "
                    f"{self._got_in_since_full} got in since the quota filled, {now - (self._since or now):.0f} s "
                    f"without room (up to {self.timeout_seconds:g} s: capacity_timeout_seconds)"
                )
        if expired is not None:
            raise WaitingForCapacityError(f"not submitted: {expired}; --resume submits it")
        if line is not None:
            self._say(line)
        me = threading.get_ident()
        with self._woken:
            if not self._stopped:
                if self._prober is None:
                    self._prober, self._probes = me, 0
                if self._prober == me:
                    delay = min(self._cap, self._base * 2**self._probes) * (0.75 + random.random() / 2)
                    self._probes += 1
                    self._woken.wait(delay)
                else:
                    self._woken.wait(TURN_SECONDS)
            stopped = self._stopped
        if stopped:
            raise WaitingForCapacityError(
                "not submitted: the launch stopped while it waited for capacity (the quota was full); "
                "--resume submits it"
            )

    def got_in(self, waiting_since: float | None) -> None:
        """A submission got in: the no-room clock restarts; a job that waited leaves the wait."""
        now = self._clock()
        done_line = None
        with self._lock:
            if self._since is not None:
                self._since = now
                self._got_in_since_full += 1
            self._leave_probing()
            if self._waiting:
                self._woken.notify(1)  # the job waiting longest tries now: room may be free for it too
            if waiting_since is not None:
                self.waits.append(now - waiting_since)
                self._waiting -= 1
                if self._waiting == 0:
                    self._since = None
                    done_line = (
                        f"[hydra-flyte] capacity: every job waiting got in ({len(self.waits)} waited so far, the "
                        f"longest {max(self.waits):.1f} s)"
                    )
        if done_line is not None:
            self._say(done_line)

    def gave_up(self) -> None:
        """A waiting job left without getting in (the bound, a stop, or another error)."""
        with self._lock:
            self._waiting -= 1
            if self._waiting == 0 and self._expired is None:
                self._since = None
            if self._leave_probing() and self._waiting:
                self._woken.notify(1)  # another job takes over the probing

    def _leave_probing(self) -> bool:
        """The calling job no longer probes (it got in or left); whether it was the prober. Lock held."""
        if self._prober != threading.get_ident():
            return False
        self._prober = None
        return True

    # -- the launch's side ------------------------------------------------------------------------

    def room_freed(self) -> None:
        """One of the launch's runs ended (it no longer counts against a quota): a waiting job tries now."""
        with self._woken:
            if self._waiting:
                self._woken.notify(1)

    def stop(self) -> None:
        """End every wait now (Ctrl-C, or the launch is over): the jobs waiting stay unsubmitted."""
        with self._woken:
            self._stopped = True
            self._woken.notify_all()

    @property
    def waiting(self) -> bool:
        """Whether jobs of the launch are waiting for capacity now."""
        return self._waiting > 0

    @property
    def expired(self) -> str | None:
        """Why the jobs gave up waiting for capacity, once they have."""
        return self._expired

    def _say(self, line: str) -> None:
        print(line, file=self._stream or sys.stderr, flush=True)  # progress, not a result
