"""`rerun --failed` for a detached sweep: its failed jobs run again in a new driver run, from the same plan.

The new run re-runs the driver's own task and inputs as recorded by the control plane (flyte's
`rerun`: no local code needed), with `only` naming the jobs to run; it is named
`<first driver run>-r<k>`, labelled with the sweep id and a token of this submission, and is
ours only if the control plane's answer carries that token (as for any named run).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from hydra_flyte.state import phases as ph
from hydra_flyte.state.manifest import Manifest


def rerun_detached(manifest: Manifest, *, jobs: Sequence[int] | None = None) -> Any:
    """A new driver run for the failed jobs of a detached sweep (None when there is none to rerun)."""
    import flyte

    from hydra_flyte.config.run_rules import SUBMISSION_LABEL, SWEEP_LABEL, attempt_run_name, check_run_name
    from hydra_flyte.remote.ownership import adopt_submission, confirm_created, is_already_exists
    from hydra_flyte.remote.submission_pool import call_with_retries

    driver = manifest.driver or {}
    if driver.get("kind") == "optuna":
        from hydra_flyte.errors import ConfigurationError

        raise ConfigurationError(
            f"sweep {manifest.sweep_id} is a detached Optuna sweep: its trials were asked by the study in its driver "
            "run, and running some of them again outside the study would not tell it. Start a new sweep (with "
            "hydra.sweeper.storage set to the same storage, its study goes on from the trials it holds)."
        )
    wanted = [r.job for r in manifest.records() if ph.is_rerunnable_failure(r.phase)]
    if jobs is not None:
        wanted = [num for num in wanted if num in set(jobs)]
    if not wanted:
        return None
    earlier = [name for name in driver.get("earlier", []) if name]
    first = earlier[0] if earlier else str(driver["run_name"])
    new_name = attempt_run_name(first, len(earlier) + 1)
    check_run_name(
        new_name, where="the sweep's new driver run",
        fix="a new driver run is named after the first (<its name>-r<attempt>): start a new sweep with a shorter --name",
        sweep=True,
    )  # fmt: skip
    token = secrets.token_hex(8)
    labels = {**manifest.labels, SWEEP_LABEL: manifest.sweep_id, SUBMISSION_LABEL: token}
    runner = flyte.with_runcontext(mode="remote", name=new_name, labels=labels)
    source = str(driver["run_name"])

    def start() -> Any:
        try:
            run = runner.rerun(source, only=json.dumps(wanted))
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            return adopt_submission(new_name, exc, token=token)
        return confirm_created(run, sweep_id=None, job_num=None, token=token)

    run = call_with_retries(start)
    print(
        f"Resubmitted jobs {', '.join(map(str, wanted))} in driver run {run.name}: {run.url}",
        file=sys.stderr,
        flush=True,
    )
    manifest.driver_rerun(wanted, run_name=run.name, url=run.url)
    return run
