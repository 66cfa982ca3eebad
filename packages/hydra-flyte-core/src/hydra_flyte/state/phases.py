"""The phases a sweep manifest records for a job, and the rules every module applies to them.

The control plane is the source of truth and the manifest a cache of it: a record moves only on
what the control plane confirmed. Besides flyte's own ActionPhase names (QUEUED, RUNNING, ...,
SUCCEEDED, FAILED, ABORTED, TIMED_OUT), a record can hold phases of ours:

- PLANNED: the run name is chosen and on disk; not known to have reached the control plane.
- SUBMITTED: the control plane confirmed the run exists.
- UNCONFIRMED: contact was lost before the control plane confirmed a terminal phase.
- SUBMIT_FAILED: the control plane refused the CreateRun, or the name belongs to another sweep:
  no run of ours exists under the name.
- NOT_SUBMITTED: the planned name was looked up and the control plane has no such run.

RECOVERED counts as success and is recorded SUCCEEDED. Strings throughout, so that manifests of
format version 1 load as they are.
"""

from __future__ import annotations

from typing import Any

PLANNED = "PLANNED"
SUBMITTED = "SUBMITTED"
UNCONFIRMED = "UNCONFIRMED"
SUBMIT_FAILED = "SUBMIT_FAILED"
NOT_SUBMITTED = "NOT_SUBMITTED"

QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
RECOVERED = "RECOVERED"
FAILED = "FAILED"
ABORTED = "ABORTED"
TIMED_OUT = "TIMED_OUT"

#: Terminal phases the control plane confirmed (RECOVERED is recorded as SUCCEEDED).
CONFIRMED_TERMINAL = frozenset({SUCCEEDED, FAILED, ABORTED, TIMED_OUT})
#: Runs the control plane says did not succeed: what `rerun --failed` submits again.
RERUNNABLE_FAILURES = frozenset({FAILED, ABORTED, TIMED_OUT})
#: Settled for this attempt without a run of ours under the name.
NEVER_RAN = frozenset({SUBMIT_FAILED, NOT_SUBMITTED})
#: What `--resume` submits anew, as a new attempt.
NEW_ATTEMPT_ON_RESUME = RERUNNABLE_FAILURES | NEVER_RAN

_PREFIX = "ACTION_PHASE_"


def phase_name(phase: Any) -> str:
    """The upper-case name of a flyte ActionPhase (enum member, its value, or a protobuf enum name).

    RECOVERED stays RECOVERED here; `recorded_phase` is what a manifest stores.
    """
    name = getattr(phase, "name", None)
    text = str(name if name else phase).upper()
    return text[len(_PREFIX) :] if text.startswith(_PREFIX) else text


def recorded_phase(phase: Any) -> str:
    """The phase a manifest records for a flyte phase: its name, with RECOVERED recorded as SUCCEEDED."""
    name = phase_name(phase)
    return SUCCEEDED if name == RECOVERED else name


def is_success(phase: Any) -> bool:
    """SUCCEEDED, or flyte's RECOVERED (a run recovered as-is from a prior one)."""
    return phase_name(phase) in (SUCCEEDED, RECOVERED)


def is_confirmed_terminal(phase: Any) -> bool:
    """A terminal phase the control plane confirmed: SUCCEEDED (or RECOVERED), FAILED, ABORTED, TIMED_OUT."""
    return recorded_phase(phase) in CONFIRMED_TERMINAL


def is_settled(phase: Any) -> bool:
    """Nothing more to learn from the control plane for this attempt: confirmed terminal, or never ran."""
    return is_confirmed_terminal(phase) or phase_name(phase) in NEVER_RAN


def needs_refresh(phase: Any) -> bool:
    """Whether `status` looks the job up again: PLANNED, SUBMITTED, flyte's non-terminal phases, UNCONFIRMED."""
    return not is_settled(phase)


def is_rerunnable_failure(phase: Any) -> bool:
    """A run the control plane says failed, was aborted or timed out: `rerun --failed` reruns it."""
    return phase_name(phase) in RERUNNABLE_FAILURES


def is_never_ran(phase: Any) -> bool:
    """SUBMIT_FAILED or NOT_SUBMITTED: no run of ours exists under the job's name (`--resume` submits it)."""
    return phase_name(phase) in NEVER_RAN


def needs_new_attempt_on_resume(phase: Any) -> bool:
    """Failed, aborted, timed out, refused or never submitted: `--resume` submits the job anew."""
    return phase_name(phase) in NEW_ATTEMPT_ON_RESUME
