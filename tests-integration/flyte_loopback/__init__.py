"""A loopback Flyte 2 control plane for tests: real Connect services on 127.0.0.1 that run tasks for real."""

from .control_plane import ControlPlane
from .executor import Executor, ExecutorConfig
from .faults import ActionTarget, Faults, input_equals, run_named
from .recorder import CreatedRun, RecordedRequest, Recorder
from .rules import DEFAULT_PROFILE, PROFILES, Profile
from .runs import Action, PastAttempt, Run, RunStore

__all__ = [
    "Action",
    "ActionTarget",
    "ControlPlane",
    "CreatedRun",
    "DEFAULT_PROFILE",
    "Executor",
    "ExecutorConfig",
    "Faults",
    "PROFILES",
    "PastAttempt",
    "Profile",
    "RecordedRequest",
    "Recorder",
    "Run",
    "RunStore",
    "input_equals",
    "run_named",
]
