"""Where each option of `flyte run` goes in `flyte hydra run` (init, mode, run options, follow, or rejected)."""

from __future__ import annotations

from typing import Any

#: How each `flyte run` option is handled. Anything flyte adds later must be placed here
#: (tests/test_flyte_private.py checks the two lists match), never silently dropped.
RUN_OPTION_HANDLING: dict[str, str] = {
    "project": "init",
    "domain": "init",
    "root_dir": "init",
    "image": "init",
    "no_sync_local_sys_paths": "init",
    "local": "mode",
    "tracked": "mode",
    "copy_style": "run_options",
    "version": "run_options",
    "name": "run_options",
    "raw_data_path": "run_options",
    "service_account": "run_options",
    "debug": "run_options",
    "env": "run_options",
    "label": "run_options",
    "queue": "run_options",
    "max_action_concurrency": "run_options",
    "tracked_strict": "run_options",
    "follow": "follow",
    "tui": "rejected",
    "run_project": "rejected",
    "run_domain": "rejected",
}

#: The one-line help `flyte hydra run --help` shows for each `flyte run` option (flyte's own is
#: written for one plain run; tests/test_flyte_private.py checks the names match). The refused
#: ones are hidden from the option list and named in the command's description instead.
RUN_OPTION_HELP: dict[str, str] = {
    "project": "Project of the runs (default: the config's).",
    "domain": "Domain of the runs (default: the config's).",
    "root_dir": "Source root the code bundle is made from.",
    "image": "Image of an environment, NAME=URI. Repeatable.",
    "no_sync_local_sys_paths": "Do not send local sys.path entries to the runs.",
    "local": "Run on this machine: short for --mode local.",
    "tracked": "Run locally, reporting to the control plane.",
    "tracked_strict": "With --tracked: a reporting failure fails the run.",
    "copy_style": "Code bundle: loaded_modules (default), all, none or custom.",
    "version": "Version of the runs (default: from the code bundle).",
    "name": "Run name; with --multirun, NAME-0, NAME-1, ... (one per job).",
    "raw_data_path": "Prefix for offloaded data, e.g. s3://bucket/.",
    "service_account": "Kubernetes service account of the runs.",
    "debug": "Run as a VSCode debug task.",
    "env": "Environment variable KEY=VALUE of every run. Repeatable.",
    "label": "Label KEY=VALUE of every run. Repeatable.",
    "queue": "Queue (cluster) of the runs.",
    "max_action_concurrency": "Most actions running at once within a run.",
    "follow": "Single remote run: stream its logs, then print its summary.",
    "tui": "Refused: the TUI renders one plain local run.",
    "run_project": "Refused: for `flyte run deployed-task`; use --project.",
    "run_domain": "Refused: for `flyte run deployed-task`; use --domain.",
}
#: Metavars shorter than click's own, so the option list stays narrow.
RUN_OPTION_METAVAR: dict[str, str] = {"copy_style": "STYLE", "max_action_concurrency": "N"}


def as_forwarded(options: list[Any]) -> list[Any]:
    """`flyte run`'s options as `flyte hydra run` shows them: its own one-line help, the refused ones hidden."""
    for option in options:
        option.help = RUN_OPTION_HELP.get(option.name, option.help)
        option.show_default = False
        if option.name in RUN_OPTION_METAVAR:
            option.metavar = RUN_OPTION_METAVAR[option.name]
        if RUN_OPTION_HANDLING.get(option.name) == "rejected":
            option.hidden = True
    return options
