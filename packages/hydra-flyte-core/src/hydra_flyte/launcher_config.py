"""The structured config of `hydra/launcher=flyte`, and its registration in Hydra's ConfigStore.

Light on purpose (no flyte import): Hydra imports launcher plugins on every app start.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any, Dict  # noqa: UP035 - OmegaConf needs typing generics on 3.10

from hydra_flyte.settings_schema import conf_fields

LAUNCHER_GROUP = "hydra/launcher"
LAUNCHER_NAME = "flyte"
# Hydra calls no launcher for a run without --multirun; this callback gives such a run the
# launcher's mode and waiting (see hydra_flyte.engine.run_callback).
RUN_CALLBACK_NAME = "hydra_flyte_run"
RUN_CALLBACK_TARGET = "hydra_flyte.engine.run_callback.FlyteRunCallback"


#: Fields of `hydra.launcher` when `hydra/launcher=flyte` is selected: `_target_` and one field per
#: launch setting, with its type and default, derived from `hydra_flyte.settings_schema.LaunchSettings`
#: (each setting's one-line help is there).
FlyteLauncherConf = make_dataclass(
    "FlyteLauncherConf",
    [("_target_", str, field(default="hydra_plugins._hydra_flyte_core.FlyteLauncher")), *conf_fields()],
    namespace={"__module__": __name__},
)
FlyteLauncherConf.__doc__ = (
    "Fields of `hydra.launcher` when `hydra/launcher=flyte` is selected (see settings_schema)."
)


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
