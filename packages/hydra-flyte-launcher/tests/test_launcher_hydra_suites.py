"""Hydra's own launcher test suites, run with `hydra/launcher=flyte` in local mode."""

from __future__ import annotations

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite

from hydra_plugins.hydra_flyte_plugin import FlyteLauncher


@pytest.fixture(autouse=True)
def _version_base_of_a_fresh_process():
    """Hydra's suites expect the version base a fresh process has (unspecified, so 1.1's chdir).

    Anything earlier in the same pytest process that initialised Hydra with a version base (the
    CLI's and core's tests, through `initialize(version_base=...)`) leaves it set for the process.
    """
    from hydra import version

    base = version.VersionBase.instance()
    saved = base.getbase()
    base.version_base = version._UNSPECIFIED_
    yield
    base.version_base = saved


def test_discovery() -> None:
    """Hydra's plugin scan finds the launcher under the name its config's _target_ uses."""
    launchers = Plugins.instance().discover(Launcher)
    assert FlyteLauncher in launchers
    assert (
        f"{FlyteLauncher.__module__}.{FlyteLauncher.__name__}"
        == "hydra_plugins._hydra_flyte_core.FlyteLauncher"
    )


@pytest.mark.parametrize("launcher_name, overrides", [("flyte", ["hydra.launcher.mode=local"])])
class TestFlyteLauncher(LauncherTestSuite):
    """In-process sweeps through Hydra's test runner."""


@pytest.mark.slow
@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/launcher=flyte", "hydra.launcher.mode=local"])],
)
class TestFlyteLauncherIntegration(IntegrationTestSuite):
    """Hydra apps run as subprocesses with --multirun: task names, sweep dirs and subdirs, cwd handling."""
