"""Remote is the default; without a Flyte endpoint it fails with exit 1 and says how to fix it."""

from __future__ import annotations

import pytest
from conftest import flat, hydra_run

CONF = ("--config-path", "conf", "--config-name", "main")


@pytest.mark.parametrize(
    "extra",
    [(), ("--mode", "remote"), ("--no-wait",), ("--multirun",), ("--follow",)],
    ids=["default", "mode-remote", "no-wait", "multirun", "follow"],
)
def test_remote_without_endpoint_exits_1(project, extra) -> None:
    epochs = "training.epochs=1,2" if "--multirun" in extra else "training.epochs=1"
    result = hydra_run(*CONF, *extra, "fixture_tasks.py", "score", "--cfg", epochs)
    assert result.exit_code == 1, result.output
    text = flat(result.output)
    assert "no Flyte endpoint configured" in text
    assert "--local" in text
    assert "Traceback" not in result.output
    assert not result.stdout.strip()  # nothing was run, nothing printed as a result
