"""Public API for the packages that build entry points on hydra-flyte-core (hydra-flyte-launcher, flyte-hydra-cli).

What they need of core beyond `hydra_flyte`'s own exports, in one public place: the private-symbol
fence helpers (`Private`, `expect`), phases, the sweep summary, the Ctrl-C commands, the coexistence
warning, the report. Each name is loaded on first use (importing this module is free), so an entry
point's `--help` imports neither Hydra nor the heavy parts of core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # fences: a dependency's private symbol found on first use, with a public fallback (see _fallback)
    "Private": "._fallback",
    "expect": "._fallback",
    "warn_if_other_plugin_installed": "._coexistence",
    # phases of a job's run (one set, one rule for success and for having ended)
    "SUCCEEDED": "._phases",
    "is_success": "._phases",
    "is_settled": "._phases",
    "is_never_ran": "._phases",
    "phase_name": "._phases",
    # sweeps
    "is_hydra_override": "._overrides",
    "format_summary": "._manifest",
    # the summary a run or sweep prints when it ends (results on stdout, the rest on stderr)
    "print_summary": "._summary",
    "single_record": "._summary",
    "results_on_stdout": "._summary",
    "results_stream": "._summary",
    "render": "._summary",
    "document": "._summary",
    "local_rerun_message": "._sweeps",
    "Commands": "._interrupt",
    "entry_point_commands": "._interrupt",
    "require_plotly": "._report",
    "sweep_report": "._report",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for readers and type checkers; at run time each name is loaded by __getattr__
    from ._coexistence import warn_if_other_plugin_installed  # noqa: F401
    from ._fallback import Private, expect  # noqa: F401
    from ._interrupt import Commands, entry_point_commands  # noqa: F401
    from ._manifest import format_summary  # noqa: F401
    from ._overrides import is_hydra_override  # noqa: F401
    from ._phases import SUCCEEDED, is_never_ran, is_settled, is_success, phase_name  # noqa: F401
    from ._report import require_plotly, sweep_report  # noqa: F401
    from ._sweeps import local_rerun_message  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hydra_flyte.integration' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, "hydra_flyte"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
