"""Import the user's script and find its Flyte tasks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class ScriptError(Exception):
    """The script could not be found or imported; `str()` is a one-paragraph message for the user."""


def load_script(path: str) -> ModuleType:
    """Import `path` as a module named after its file, the way `flyte run` does.

    The script's directory goes on `sys.path` and the module is registered under its stem, so
    Flyte can find the task again when it bundles the code for a remote run. Importing it runs
    its top-level code, including any `ConfigStore.instance().store(...)` registrations.
    """
    file = Path(path)
    if not file.is_file():
        where = f" (looked in {Path.cwd()})" if not file.is_absolute() else ""
        kind = "is a directory, not a Python file" if file.is_dir() else "does not exist"
        raise ScriptError(
            f"script '{path}' {kind}{where}: pass the path of the Python file that defines the task, "
            "e.g. `flyte hydra run train.py pipeline`."
        )
    module_name = file.stem
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ScriptError(f"script '{path}' is not an importable Python file: give it a .py name.")
    module = importlib.util.module_from_spec(spec)
    directory = str(file.resolve().parent)
    if directory not in sys.path:
        sys.path.append(directory)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        detail = f"{type(exc).__name__}: {exc}"
        raise ScriptError(
            f"could not import script '{path}' ({detail}). Fix the script so that `python {path}` "
            "imports cleanly; keep heavy work and `@hydra.main` calls under `if __name__ == '__main__':`."
        ) from exc
    return module


def tasks_in(module: ModuleType) -> dict[str, Any]:
    """The Flyte tasks reachable from the module's top level, by the name they have there."""
    from flyte import TaskTemplate

    return {name: obj for name, obj in vars(module).items() if isinstance(obj, TaskTemplate)}
