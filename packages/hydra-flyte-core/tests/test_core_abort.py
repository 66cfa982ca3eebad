"""`abort_sweep` before the control plane: a local sweep refused, no endpoint, the manifest left alone.

What the control plane confirms (runs aborted, runs that ended first, runs of another sweep left
alone, lost contact, a detached sweep's driver run) is the integration suite's:
tests-integration/test_sweep_abort.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core_tasks import objective

from hydra_flyte import ConfigurationError, Manifest, NoEndpointError, SweepAbort, abort_sweep, hydra_sweep


def test_a_local_sweep_is_refused_with_why(conf_dir: str, tmp_path: Path, no_flyte_endpoint: None) -> None:
    sweep_dir = tmp_path / "sweep"
    hydra_sweep(objective, config_path=conf_dir, config_name="training",
                overrides=["optimizer.lr=0.25,0.5", f"hydra.sweep.dir={sweep_dir}"], mode="local")  # fmt: skip
    before = (sweep_dir / "flyte-sweep.json").read_text()
    with pytest.raises(
        ConfigurationError, match=r"is a local sweep: .*no run of it is on a control plane to abort"
    ):
        abort_sweep(sweep_dir)  # refused before any Flyte endpoint is looked for
    assert (sweep_dir / "flyte-sweep.json").read_text() == before


def test_no_endpoint_aborts_nothing_and_leaves_the_manifest_alone(
    tmp_path: Path, no_flyte_endpoint: None
) -> None:
    manifest = Manifest.create(
        tmp_path / "sweep", sweep_id="hf-ab0c0001", run_options={"project": "p", "domain": "d"}
    )
    manifest.plan([(0, ["x=1"], "ab-0"), (1, ["x=2"], "ab-1")])
    manifest.submitted(0, run_name="ab-0", url="http://cp.example/runs/ab-0")
    manifest.save()
    before = manifest.path.read_text()
    with pytest.raises(NoEndpointError):
        abort_sweep(tmp_path / "sweep")
    assert manifest.path.read_text() == before


def test_confirmed_means_no_job_left_unconfirmed(tmp_path: Path) -> None:
    manifest = Manifest.create(tmp_path / "sweep", sweep_id="hf-ab0c0002", mode="local")
    outcome = SweepAbort(
        manifest, aborted=[0], finished=[1], nothing_to_abort={2: "not submitted, nothing to abort"}
    )
    assert outcome.confirmed
    outcome.unconfirmed[3] = "lost contact"
    assert not outcome.confirmed
