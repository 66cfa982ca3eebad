"""`from hydra_flyte import apply_task_env` stays light: it runs inside task containers."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
before = set(sys.modules)
from hydra_flyte import apply_task_env
import hydra_flyte
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_apply_task_env_starts_no_hydra_runtime_and_no_kubernetes() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    assert "hydra_flyte.config.task_env" in loaded
    for heavy in (
        "hydra._internal.hydra",
        "hydra.core.plugins",
        "kubernetes",
        "flyte",
        "hydra_flyte.sdk.api",
    ):
        assert heavy not in loaded, f"{heavy} imported by `from hydra_flyte import apply_task_env`"
