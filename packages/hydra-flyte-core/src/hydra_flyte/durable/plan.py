"""A detached sweep's plan: each job's task (with its task_env overrides) and inputs, pickled for the driver.

A task function wrapped by `@env.task` cannot be pickled by reference (the module attribute is the
task, not the function): it travels as (module, name) and is looked up again in the driver, where
the run's code bundle makes the same module importable. Everything else is pickled by value.
"""

from __future__ import annotations

import base64
import importlib
import io
import pickle
import sys
import types
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PlannedJob:
    """One job of a detached sweep: its number, overrides, the task to call and its inputs."""

    job: int
    overrides: tuple[str, ...]
    task: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType):
            holder = getattr(sys.modules.get(obj.__module__), obj.__qualname__, None)
            if holder is not None and holder is not obj and getattr(holder, "func", None) is obj:
                return ("task-function", obj.__module__, obj.__qualname__)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, module, name = pid
        if kind != "task-function":
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return importlib.import_module(module).__dict__[name].func


def encode(payload: Any) -> str:
    """`payload` (a plan) as text for the driver's input."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(text: str) -> Any:
    """The payload `encode` made, in the driver."""
    return _Unpickler(io.BytesIO(base64.b64decode(text))).load()
