"""Public API for the packages that build entry points on hydra-flyte-core (hydra-flyte-launcher, flyte-hydra-cli).

What they need of core beyond `hydra_flyte`'s own exports, in one public place: the private-symbol
fence helpers (`Private`, `expect`), phases, the sweep summary, the Ctrl-C commands, the coexistence
warning, the report. Each name is loaded on first use (importing this module is free), so an entry
point's `--help` imports neither Hydra nor the heavy parts of core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra_flyte._lazy import lazy_exports

_EXPORTS = {
    # fences: a dependency's private symbol found on first use, with a public fallback (see compat.fallback)
    "Private": "hydra_flyte.compat.fallback",
    "expect": "hydra_flyte.compat.fallback",
    "warn_if_other_plugin_installed": "hydra_flyte.compat.coexistence",
    # phases of a job's run (one set, one rule for success and for having ended)
    "SUCCEEDED": "hydra_flyte.state.phases",
    "is_success": "hydra_flyte.state.phases",
    "is_settled": "hydra_flyte.state.phases",
    "is_never_ran": "hydra_flyte.state.phases",
    "phase_name": "hydra_flyte.state.phases",
    # sweeps
    "is_hydra_override": "hydra_flyte.config.overrides",
    "hint_misspelled_overrides": "hydra_flyte.compose.hints",
    "format_summary": "hydra_flyte.state.manifest",
    # the summary a run or sweep prints when it ends (results on stdout, the rest on stderr)
    "print_summary": "hydra_flyte.state.summary",
    "single_record": "hydra_flyte.state.summary",
    "results_on_stdout": "hydra_flyte.state.output",
    "results_stream": "hydra_flyte.state.output",
    "render": "hydra_flyte.state.summary",
    "document": "hydra_flyte.state.summary",
    "DOCUMENT_KEYS": "hydra_flyte.state.summary",
    "run_header": "hydra_flyte.state.summary",
    "sweep_header": "hydra_flyte.state.summary",
    "local_rerun_message": "hydra_flyte.remote.reattach",
    "Commands": "hydra_flyte.engine.interrupt",
    "entry_point_commands": "hydra_flyte.engine.interrupt",
    "require_plotly": "hydra_flyte.report.html",
    # hydra_run / hydra_sweep with the launch settings built by the entry point, handed over whole
    "run_with_settings": "hydra_flyte.sdk.api",
    "sweep_with_settings": "hydra_flyte.sdk.api",
    "sweep_report": "hydra_flyte.report.html",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for readers and type checkers; at run time each name is loaded by __getattr__
    from hydra_flyte.compat.coexistence import warn_if_other_plugin_installed  # noqa: F401
    from hydra_flyte.compat.fallback import Private, expect  # noqa: F401
    from hydra_flyte.config.overrides import is_hydra_override  # noqa: F401
    from hydra_flyte.engine.interrupt import Commands, entry_point_commands  # noqa: F401
    from hydra_flyte.remote.reattach import local_rerun_message  # noqa: F401
    from hydra_flyte.report.html import require_plotly, sweep_report  # noqa: F401
    from hydra_flyte.sdk.api import run_with_settings, sweep_with_settings  # noqa: F401
    from hydra_flyte.state.manifest import format_summary  # noqa: F401
    from hydra_flyte.state.phases import SUCCEEDED, is_never_ran, is_settled, is_success, phase_name  # noqa: F401


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
