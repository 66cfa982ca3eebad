"""The structured config of `hydra/launcher=flyte`, and its registration in Hydra's ConfigStore.

Light on purpose (no flyte import): Hydra imports launcher plugins on every app start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional  # noqa: UP035 - OmegaConf needs typing generics on 3.10

LAUNCHER_GROUP = "hydra/launcher"
LAUNCHER_NAME = "flyte"
# Hydra calls no launcher for a run without --multirun; this callback gives such a run the
# launcher's mode and waiting (see hydra_flyte._run_callback).
RUN_CALLBACK_NAME = "hydra_flyte_run"
RUN_CALLBACK_TARGET = "hydra_flyte._run_callback.FlyteRunCallback"


@dataclass
class FlyteLauncherConf:
    """Fields of `hydra.launcher` when `hydra/launcher=flyte` is selected."""

    _target_: str = "hydra_plugins._hydra_flyte_core.FlyteLauncher"
    # Where runs go: "remote" (the Flyte endpoint of your config) or "local" (this machine).
    mode: str = "remote"
    # Wait for every remote run to finish and hand its value to Hydra (false: fire and forget).
    wait: bool = True
    # At most this many runs are waited on at once; null waits on all of them together.
    wait_max_workers: Optional[int] = 32  # noqa: UP045
    # At most this many remote submissions are in flight at once; null submits all together.
    submit_max_workers: Optional[int] = 16  # noqa: UP045
    # Compose every job and print what would run (overrides, task_env, run name); submit nothing.
    dry_run: bool = False
    # On the first failed run of a sweep, abort the runs still going and fail the sweep.
    fail_fast: bool = False
    # On Ctrl-C while waiting, abort every unfinished run (default: leave them going, print how to reattach).
    abort_on_interrupt: bool = False
    # Finish an earlier sweep from its manifest (path, sweep directory or sweep id): succeeded jobs are
    # kept, running ones waited on, failed or never-submitted ones submitted anew. Grid sweeps only.
    resume: Optional[str] = None  # noqa: UP045
    # While waiting, how long an unreachable control plane is retried (after flyte's own ~36 s of
    # reconnects) before the unfinished jobs are recorded UNCONFIRMED (reattach with `flyte hydra status`).
    reconnect_timeout_seconds: float = 600.0
    # Keywords for flyte.with_runcontext, applied to every run (name, service_account, labels, ...).
    run_options: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


def launcher_node() -> Dict[str, Any]:  # noqa: UP006
    """The `hydra/launcher=flyte` option, stored at package `hydra`: the launcher and its run callback.

    Selecting the option sets `hydra.launcher` (a FlyteLauncherConf: each field keeps its type) and
    adds `hydra.callbacks.hydra_flyte_run`, which single runs need. The launcher node is open to
    keys it does not declare, so that a misspelt field (`hydra.launcher.wiat=false`) reaches
    hydra_flyte, which names it, lists the accepted fields and suggests the closest, instead of
    failing in composition with no list.
    """
    from omegaconf import OmegaConf

    launcher = OmegaConf.structured(FlyteLauncherConf)
    OmegaConf.set_struct(launcher, False)
    return {
        "launcher": launcher,
        "callbacks": {RUN_CALLBACK_NAME: {"_target_": RUN_CALLBACK_TARGET}},
    }


def register_launcher_config(*, provider: str = "hydra-flyte") -> None:
    """Store `hydra/launcher=flyte` in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(
        group=LAUNCHER_GROUP, name=LAUNCHER_NAME, node=launcher_node(), package="hydra", provider=provider
    )
