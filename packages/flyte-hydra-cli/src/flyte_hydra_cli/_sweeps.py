"""`flyte hydra status SWEEP`, `flyte hydra rerun SWEEP --failed` and `flyte hydra abort SWEEP`: reattach to a remote sweep.

A remote sweep leaves a manifest (`<sweep dir>/flyte-sweep.json`) naming every run it planned.
The commands start from it (a manifest path, its sweep directory, or the sweep id), talk to the
control plane the sweep went to, print the sweep's summary on stdout (hydra_flyte's: the table a
sweep prints when it ends or, with `flyte -of json`, one JSON document) and exit 0 or 1 on what it
shows. Everything else (flyte's messages, what was resubmitted or aborted) goes to stderr.

hydra_flyte is imported only when one of the commands runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import rich_click as click

from hydra_flyte.settings_schema import DEFAULTS  # light: stdlib only

from . import _flyte_private as fp
from ._run_output import _fail, root_options, status_command

#: How long an interrupted command lets the manifest's pending write land before it exits
#: (hydra_flyte coalesces manifest writes, at most 0.2 s apart).
_FLUSH_GRACE_SECONDS = 0.5

#: How the process ends after a Ctrl-C (replaced in tests).
_hard_exit: Callable[[int], Any] = os._exit


def _load(ctx: click.Context, sweep: str) -> Any:
    """The sweep's manifest; a usage error (exit 2) when there is none or it cannot be read."""
    from hydra_flyte import ConfigurationError, load_manifest

    try:
        manifest = load_manifest(sweep)
        # Absolute, so that the path printed (and the reattach hint) works from any directory.
        manifest.path = manifest.path.resolve()
        return manifest
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param_hint="'SWEEP'") from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.BadParameter(
            f"{sweep!r} is not a readable sweep manifest ({type(exc).__name__}: {exc}): pass the "
            "flyte-sweep.json a remote `flyte hydra run --multirun` wrote, its sweep directory, or its sweep id.",
            ctx,
            param_hint="'SWEEP'",
        ) from exc


def _initialise_flyte(ctx: click.Context, manifest: Any) -> None:
    """Initialise Flyte as `flyte hydra run` does (-c/--endpoint/...), in the sweep's project and domain."""
    try:
        fp.initialize_config(ctx, manifest.project, manifest.domain)
    except Exception as exc:  # a malformed config file, an unreachable auth server, ...
        _fail(ctx, f"could not initialise Flyte from its configuration: {type(exc).__name__}: {exc}", exc)


def _call(ctx: click.Context, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a hydra_flyte function, mapping its errors to exit statuses (2 usage, 1 anything else)."""
    from hydra_flyte import ConfigurationError, ContactLostError, NoEndpointError

    try:
        return function(*args, **kwargs)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    except ContactLostError as exc:
        manifest = args[1] if len(args) > 1 else "SWEEP"
        _fail(
            ctx,
            f"{exc}. What was confirmed is in the manifest; the jobs left unconfirmed are looked up again by "
            f"`flyte hydra status {manifest} --wait` once the control plane is back.",
            exc,
        )
    except NoEndpointError as exc:
        _fail(ctx, str(exc), exc)
    except click.ClickException:
        raise
    except Exception as exc:  # the control plane refused or is unreachable, ...
        command = ctx.command_path
        _fail(
            ctx,
            f"{type(exc).__name__}: {exc} (rerun as `flyte -v {command.split(' ', 1)[-1]} ...` for the traceback)",
            exc,
        )


def _interruptible(ctx: click.Context, manifest_path: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `function` in a daemon thread, so that Ctrl-C stops the command at once.

    hydra_flyte waits for runs in a thread pool that is joined before the call returns (and again
    at interpreter exit), so a Ctrl-C in the calling thread would only take effect once every run
    had ended. Here the main thread just watches; on Ctrl-C it says how to reattach and ends the
    process, leaving the runs going.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="flyte-hydra-reattach", daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted: stopped waiting; the runs go on. Manifest: {manifest_path}. "
            f"Reattach with: {status_command(ctx, str(manifest_path))}",
            err=True,
        )
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C only cuts the grace short
            time.sleep(_FLUSH_GRACE_SECONDS)
        sys.stdout.flush()
        sys.stderr.flush()
        _hard_exit(130)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _on_manifest(ctx: click.Context, manifest: Any, function: Any, **kwargs: Any) -> Any:
    """`function(manifest.path, **kwargs)` from hydra_flyte: Ctrl-C stops it at once, errors map to exit codes."""
    return _call(ctx, _interruptible, ctx, manifest.path, function, manifest.path, **kwargs)


def _report(ctx: click.Context, manifest: Any) -> None:
    """The sweep's summary on stdout: the table of its jobs and where the manifest is, or its JSON document."""
    from hydra_flyte.integration import print_summary, sweep_header

    records = manifest.records()
    where = "/".join(p for p in (manifest.project, manifest.domain) if p)
    title = (
        f"Sweep {manifest.sweep_id}: {len(records)} job{'s' if len(records) != 1 else ''}"
        + (f" of {manifest.task}" if manifest.task else "")
        + (f" in {where}" if where else "")
        + (" (local)" if manifest.mode == "local" else "")
        + (" (interrupted)" if manifest.interrupted else "")
    )
    print_summary(
        records, fmt=fp.output_format(ctx), direction=manifest.direction, title=title,
        footer=[f"Manifest: {manifest.path}"], header=sweep_header(manifest),
    )  # fmt: skip


def _exit_code(records: Iterable[Any], *, all_finished: bool) -> int:
    """0 or 1. With all_finished, only a sweep whose every job SUCCEEDED is 0; otherwise
    any job settled without success (failed, aborted, timed out, or never ran) makes it 1 and
    jobs still going do not."""
    from hydra_flyte import integration as ph

    phases = [r.phase for r in records]
    if all_finished:
        return 0 if all(p == ph.SUCCEEDED for p in phases) else 1
    return 1 if any(ph.is_settled(p) and not ph.is_success(p) for p in phases) else 0


def _reconnect_timeout_option() -> Any:
    return click.option(
        "--reconnect-timeout",
        "reconnect_timeout",
        type=click.FloatRange(min=0),
        default=DEFAULTS["reconnect_timeout_seconds"],
        show_default=True,
        metavar="SECONDS",
        help="How long an unreachable control plane is retried (after flyte's own reconnects) before the "
        "command gives up, leaving the jobs it could not confirm UNCONFIRMED.",
    )


def _wait_max_workers_option(help_text: str = "How many runs to look up or wait for concurrently.") -> Any:
    return click.option(
        "--wait-max-workers",
        type=click.IntRange(min=1),
        default=DEFAULTS["wait_max_workers"],
        show_default=True,
        help=help_text,
    )


@click.command(
    "status",
    short_help="Show the phase and result of every job of a remote sweep.",
)
@click.argument("sweep", metavar="SWEEP")
@click.option(
    "--wait/--no-wait",
    default=False,
    show_default=True,
    help="Wait for every unfinished run to end before printing.",
)
@_wait_max_workers_option()
@_reconnect_timeout_option()
@click.pass_context
def status(
    ctx: click.Context, sweep: str, wait: bool, wait_max_workers: int, reconnect_timeout: float
) -> None:
    """
    Show the phase and result of every job of a remote sweep, from its manifest.

    SWEEP is the manifest (`flyte-sweep.json`), the sweep directory holding it, or the sweep id
    printed when the sweep started. The runs are looked up on the control plane configured for
    `flyte` (`-c/--config`, `--endpoint`, ...), in the sweep's project and domain, and the
    manifest is brought up to date. A local sweep's manifest (`--local`) is shown as recorded,
    with no control plane contacted.

    Exit status: 1 if any job failed, was aborted, timed out, was refused or was never submitted; with
    `--wait`, 1 unless every job succeeded; 0 otherwise (jobs still running do not count as
    failures without `--wait`). 2 for a missing or unreadable manifest, 130 on Ctrl-C.
    """
    import hydra_flyte
    from hydra_flyte.integration import results_on_stdout

    with results_on_stdout():  # flyte's messages and logs to stderr, the summary to stdout
        manifest = _load(ctx, sweep)
        if manifest.mode != "local":  # a local sweep's manifest is final: no control plane to ask
            _initialise_flyte(ctx, manifest)
            manifest = _on_manifest(
                ctx, manifest, hydra_flyte.sweep_status, wait=wait, wait_max_workers=wait_max_workers,
                reconnect_timeout_seconds=reconnect_timeout,
            )  # fmt: skip
        _report(ctx, manifest)
    ctx.exit(_exit_code(manifest.records(), all_finished=wait))


@click.command(
    "rerun",
    short_help="Submit again the jobs of a remote sweep that failed or were aborted.",
)
@click.argument("sweep", metavar="SWEEP")
@click.option(
    "--failed",
    is_flag=True,
    default=False,
    help="Rerun the jobs that failed, were aborted or timed out. Required: it is the only selection supported.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the new runs to end, or return once they are submitted.",
)
@_wait_max_workers_option()
@_reconnect_timeout_option()
@click.pass_context
def rerun(
    ctx: click.Context, sweep: str, failed: bool, wait: bool, wait_max_workers: int, reconnect_timeout: float
) -> None:
    """
    Submit again the jobs of a remote sweep that failed, were aborted or timed out.

    SWEEP is the manifest (`flyte-sweep.json`), the sweep directory or the sweep id. The phases
    are refreshed from the control plane first; then Flyte reruns each failed run with exactly
    the inputs it had (the same composed config and task arguments), as a new run recorded in
    the same manifest (the old one stays in the job's attempts). Only runs the control plane
    says failed are rerun: jobs whose submission was refused (SUBMIT_FAILED) or that never
    reached it (NOT_SUBMITTED) have no run to rerun from (the sweep's command with `--resume`
    submits those), and a run under a job's name whose labels name another sweep is never
    rerun nor reported as this sweep's.

    Exit status: with `--wait`, 0 only if every job of the sweep has now succeeded; with
    `--no-wait`, 0 when no job is left failed. 1 otherwise, 2 for usage errors or a missing
    manifest, 130 on Ctrl-C.
    """
    import hydra_flyte

    if not failed:
        raise click.UsageError(
            "only `--failed` is supported: `flyte hydra rerun SWEEP --failed` submits again the jobs that "
            "failed or were aborted.",
            ctx,
        )
    from hydra_flyte.integration import results_on_stdout

    with results_on_stdout():  # flyte's messages and logs to stderr, the summary to stdout
        manifest = _load(ctx, sweep)
        if manifest.mode == "local":
            from hydra_flyte.integration import local_rerun_message

            raise click.UsageError(local_rerun_message(manifest), ctx)
        _initialise_flyte(ctx, manifest)
        # A sweep submitted with --no-wait, or interrupted, may not know yet which runs failed.
        manifest = _on_manifest(
            ctx, manifest, hydra_flyte.sweep_status, wait=False, wait_max_workers=wait_max_workers,
            reconnect_timeout_seconds=reconnect_timeout,
        )  # fmt: skip
        rerunnable = [r for r in manifest.failed() if r.run_name]
        from hydra_flyte.integration import is_never_ran

        for record in (r for r in manifest.records() if is_never_ran(r.phase)):
            click.echo(
                f"job {record.job} [{' '.join(record.overrides) or 'no overrides'}] is {record.phase}: no run of "
                f"it exists on the control plane, so Flyte has nothing to rerun ({record.error or 'no details'}). "
                f"Submit it anew with the sweep's own command plus `--resume {manifest.path}`.",
                err=True,
            )
        if rerunnable:
            manifest = _on_manifest(
                ctx, manifest, hydra_flyte.rerun_failed, wait=wait, wait_max_workers=wait_max_workers,
                reconnect_timeout_seconds=reconnect_timeout,
            )  # fmt: skip
        else:
            click.echo("No failed or aborted run to rerun.", err=True)
            if wait:  # as rerun_failed would: wait for the runs still going
                manifest = _on_manifest(
                    ctx, manifest, hydra_flyte.sweep_status, wait=True, wait_max_workers=wait_max_workers,
                    reconnect_timeout_seconds=reconnect_timeout,
                )  # fmt: skip
        _report(ctx, manifest)
    ctx.exit(_exit_code(manifest.records(), all_finished=wait))


#: What `flyte hydra abort` records on each run it aborts, unless --reason says otherwise.
DEFAULT_ABORT_REASON = "hydra-flyte: sweep aborted with `flyte hydra abort`"


@click.command(
    "abort",
    short_help="Abort every unfinished run of a remote sweep.",
)
@click.argument("sweep", metavar="SWEEP")
@click.option(
    "--reason",
    default=DEFAULT_ABORT_REASON,
    show_default=True,
    help="Why the runs are aborted: recorded on each run by the control plane, and in the manifest.",
)
@_wait_max_workers_option("How many runs to look up and abort concurrently.")
@_reconnect_timeout_option()
@click.pass_context
def abort(
    ctx: click.Context, sweep: str, reason: str, wait_max_workers: int, reconnect_timeout: float
) -> None:
    """
    Abort every unfinished run of a remote sweep, and record what the control plane confirmed.

    SWEEP is the manifest (`flyte-sweep.json`), the sweep directory or the sweep id. Every job not
    known to have ended is looked up on the control plane, as `flyte hydra status` does. A run of
    the sweep still going is aborted and its phase read back: the manifest records ABORTED once the
    control plane says so, and a run that ended first is recorded with its real phase and value or
    error. A job that was never submitted stays PLANNED (not submitted, nothing to abort), and a run
    under a job's name whose labels name another sweep is never aborted. A job the control plane
    cannot be reached for is left as it was and reported unconfirmed: run the command again once the
    control plane answers. A detached sweep is aborted through its one driver run. The sweep's
    summary is printed as `status` prints it; what was done to each job goes to stderr.

    Exit status: 0 when every unfinished run is confirmed aborted (or there was nothing to abort);
    1 when a job is left unconfirmed, or no control plane answers; 2 for a missing or unreadable
    manifest, or a local sweep's (nothing of it is on a control plane); 130 on Ctrl-C.
    """
    import hydra_flyte
    from hydra_flyte.integration import results_on_stdout

    with results_on_stdout():  # flyte's messages and the progress to stderr, the summary to stdout
        manifest = _load(ctx, sweep)
        if (
            manifest.mode != "local"
        ):  # a local sweep is refused by abort_sweep (exit 2), no control plane needed
            _initialise_flyte(ctx, manifest)
        outcome = _call(
            ctx, hydra_flyte.abort_sweep, manifest.path, reason=reason, wait_max_workers=wait_max_workers,
            reconnect_timeout_seconds=reconnect_timeout,
        )  # fmt: skip
        _report(ctx, outcome.manifest)
        _say_what_abort_did(ctx, outcome)
    ctx.exit(0 if outcome.confirmed else 1)


def _say_what_abort_did(ctx: click.Context, outcome: Any) -> None:
    """One closing line on stderr: how many runs were aborted, and what is left to do, if anything."""
    import shlex

    def jobs(n: int) -> str:
        return f"{n} job{'s' if n != 1 else ''}"

    parts = []
    if outcome.aborted:
        driver = getattr(outcome.manifest, "driver", None)
        if isinstance(driver, dict) and driver.get("run_name"):
            parts.append(
                f"Aborted the sweep's driver run {driver['run_name']} ({jobs(len(outcome.aborted))})"
            )
        else:
            parts.append(f"Aborted {len(outcome.aborted)} run{'s' if len(outcome.aborted) != 1 else ''}")
    if outcome.finished:
        parts.append(f"{jobs(len(outcome.finished))} had already ended")
    if outcome.nothing_to_abort:
        parts.append(f"{jobs(len(outcome.nothing_to_abort))} with nothing to abort")
    if parts:
        click.echo("; ".join(parts) + ".", err=True)
    if outcome.unconfirmed:
        which = ", ".join(f"job {job}" for job in outcome.unconfirmed)
        again = shlex.join(["flyte", *root_options(ctx), "hydra", "abort", str(outcome.manifest.path)])
        click.echo(
            f"{jobs(len(outcome.unconfirmed))} unconfirmed ({which}; why on their lines above): left as the "
            f"manifest recorded them. Once the control plane answers, run `{again}` again.",
            err=True,
        )
