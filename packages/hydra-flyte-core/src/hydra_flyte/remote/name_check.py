"""Before a named sweep submits: its first run name is looked up once; a name of another sweep's stops it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("hydra_flyte.engine.launcher")  # the logger these messages always had


def check_name_is_free(manifest: Any, jobs: Sequence[Any]) -> None:
    """With a run name given (`--name`), look its first job's name up once before submitting anything.

    A name of another sweep's (a reused `--name`) is caught here: this launch's jobs are
    recorded SUBMIT_FAILED (the clash) or NOT_SUBMITTED, and RunNameClashError names the
    owner. Names made from the sweep id are new by construction and are not looked up. A
    lookup that fails is left to the submissions (which find a clash at the first one).
    """
    from hydra_flyte.errors import RunNameClashError
    from hydra_flyte.remote.ownership import check_ours, lookup
    from hydra_flyte.remote.submit import ensure_endpoint, run_name
    from hydra_flyte.state.phases import NOT_SUBMITTED, SUBMIT_FAILED

    first = jobs[0]
    try:
        ensure_endpoint()
        run = lookup(run_name(first))
        if run is None:
            return
        check_ours(run, sweep_id=manifest.sweep_id, job_num=first.job_num)
    except RunNameClashError as clash:
        manifest.finished(first.job_num, phase=SUBMIT_FAILED, error=str(clash))
        for job in jobs[1:]:
            manifest.finished(
                job.job_num,
                phase=NOT_SUBMITTED,
                error=f"not submitted: job {first.job_num}'s run name is taken",
            )
        manifest.save()
        log.error(f"Nothing was submitted. Manifest: {manifest.path}")
        from hydra_flyte.config.validation import compact

        raise compact(clash) from None
    except Exception as exc:  # unreachable, say: the submissions will tell
        log.debug(f"could not look up run name {run_name(first)!r} before submitting: {exc}")
