"""Where each option of `flyte run` goes in `flyte hydra run` (init, mode, run options, follow, or rejected)."""

from __future__ import annotations

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
