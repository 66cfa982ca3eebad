"""hydra_sweep with a custom sweeper that fails after a good batch: the sweep fails, no partial results."""

from __future__ import annotations

from typing import Any

import pytest
from core_tasks import objective
from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper

from hydra_flyte import SweepFailedError, hydra_sweep


class BrokenAfterFirstBatch(Sweeper):
    """Launches the first job, records its good result, then fails on its own (a sweeper bug)."""

    def __init__(self, **_: Any) -> None:
        self.launcher: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from hydra.core.plugins import Plugins as P

        self.launcher = P.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        self.launcher.launch([["optimizer.lr=0.25"]], initial_job_idx=0)
        raise RuntimeError("the sweeper's own bug, after a good batch")


def _register() -> None:
    """Hydra takes plugin classes from the hydra_plugins namespace only: a module of it for this class."""
    import sys
    import types

    import hydra_plugins

    name = "hydra_plugins.hydra_flyte_test_sweepers"
    module = sys.modules.setdefault(name, types.ModuleType(name))
    module.BrokenAfterFirstBatch = BrokenAfterFirstBatch  # type: ignore[attr-defined]
    hydra_plugins.hydra_flyte_test_sweepers = module  # type: ignore[attr-defined]
    BrokenAfterFirstBatch.__module__ = name
    Plugins.instance().register(BrokenAfterFirstBatch)
    ConfigStore.instance().store(
        group="hydra/sweeper",
        name="broken_after_first_batch",
        node={"_target_": "hydra_plugins.hydra_flyte_test_sweepers.BrokenAfterFirstBatch"},
        provider="tests",
    )


def test_a_sweeper_failing_after_a_good_batch_fails_the_sweep(conf_dir: str) -> None:
    _register()
    with pytest.raises(RuntimeError, match="the sweeper's own bug"):
        hydra_sweep(
            objective,
            config_path=conf_dir,
            config_name="training",
            overrides=["hydra/sweeper=broken_after_first_batch"],
            mode="local",
        )


def test_a_failed_job_re_raised_by_the_sweeper_still_gives_every_outcome(conf_dir: str) -> None:
    """What the swallowing was for: a sweeper reading a failed job's return_value re-raises its error."""
    from core_tasks import fails_when_sgd

    with pytest.raises(SweepFailedError) as info:
        hydra_sweep(
            fails_when_sgd,
            config_path=conf_dir,
            config_name="training",
            overrides=["optimizer=adam,sgd"],
            mode="local",
        )
    assert [o.ok for o in info.value.outcomes] == [True, False]
