"""Remote is the default; without a Flyte endpoint it fails with exit 1 and says how to fix it."""

from __future__ import annotations

import pytest
from cli_helpers import flat, flyte, hydra_run

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


def test_endpoint_without_project_is_a_usage_error(project) -> None:
    result = flyte(
        "--endpoint", "dns:///127.0.0.1:9", "--insecure", "hydra", "run", *CONF, "fixture_tasks.py", "score"
    )
    assert result.exit_code == 2, result.output
    assert "needs a project and a domain: pass -p/--project and -d/--domain" in flat(result.output)


def test_flyte_config_file_is_used_for_remote_runs(project) -> None:
    # `flyte -c FILE` reaches the run: its endpoint (nothing listens there) and its project/domain.
    config = project / "flyte.yaml"
    config.write_text(
        "admin:\n  endpoint: dns:///127.0.0.1:9\n  insecure: true\ntask:\n  project: p\n  domain: d\n"
    )
    result = flyte("-c", str(config), "hydra", "run", *CONF, "fixture_tasks.py", "score")
    assert result.exit_code == 1, result.output
    text = flat(result.output)
    assert "no Flyte endpoint configured" not in text
    assert "needs a project" not in text
    assert "cannot reach the Flyte endpoint http://127.0.0.1:9 (127.0.0.1:9: Connection refused)" in text
    assert "nothing was submitted" in text and "admin.endpoint" in text
    assert "Traceback" not in result.output
