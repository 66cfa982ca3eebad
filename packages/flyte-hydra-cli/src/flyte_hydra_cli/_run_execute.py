"""The task level's work: initialise Flyte as `flyte run` does, then run or sweep through
hydra_flyte, which prints the summary; its errors become exit statuses here.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import rich_click as click

from hydra_flyte.settings_schema import BY_NAME, LaunchSettings  # light: stdlib only

from . import _flyte_private as fp
from ._run_completion import _run_ctx
from ._run_follow import _follow
from ._run_output import _fail, resume_command, status_command
from ._run_settings import Settings


def _execute(
    ctx: click.Context,
    *,
    task: Any,
    settings: Settings,
    overrides: list[str],
    task_kwargs: dict[str, Any],
) -> None:
    """Initialise Flyte like `flyte run`, run or sweep through hydra_flyte, print the outcome."""
    from hydra_flyte import (
        ConfigurationError,
        ContactLostError,
        NoEndpointError,
        RunFailedError,
        RunNameClashError,
        SweepFailedError,
        WaitingForCapacityError,
    )

    run_ctx = _run_ctx(ctx)
    assert run_ctx is not None
    if settings.mode == "remote" or "tracked" in settings.run_options:
        _check_project_and_domain(ctx, settings)
    try:
        fp.initialize_config(run_ctx, **settings.init_args)
    except Exception as exc:  # a malformed config file, an unreachable auth server, ...
        _fail(ctx, f"could not initialise Flyte from its configuration: {type(exc).__name__}: {exc}", exc)

    entry = "hydra_sweep" if settings.multirun else "hydra_run"
    # The launch settings, built once here and handed to the launch whole: the flags this entry point
    # takes (a flag not given, None, leaves core's default), the mode and run options.
    fields = {
        name: value
        for name, value in settings.launch.items()
        if entry in BY_NAME[name].sdk and value is not None
    }
    fields["wait"] = settings.wait and not settings.follow
    # hydra_flyte prints the one summary, as `flyte -of` asks (a followed run's comes after its logs).
    fields["summary"] = "none" if settings.follow and not settings.dry_run else fp.output_format(ctx)
    try:
        launch_settings = LaunchSettings(mode=settings.mode, run_options=settings.run_options, **fields)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    from hydra_flyte.integration import run_with_settings, sweep_with_settings

    launch = sweep_with_settings if settings.multirun else run_with_settings
    # Flyte sets --env variables in a remote run's container but not in a local run; a local run
    # (in this process) gets them in os.environ for its duration instead.
    local_env = settings.run_options.get("env_vars") if settings.mode == "local" else None
    from hydra_flyte.integration import Commands, entry_point_commands, results_on_stdout

    commands = Commands(
        resume=lambda path: resume_command(ctx, path), reattach=lambda path: status_command(ctx, path)
    )
    started = time.monotonic()
    try:
        # stdout carries the results alone: flyte's messages, Hydra's logs and progress go to stderr.
        with results_on_stdout(), _environment(local_env), entry_point_commands(commands):
            results = launch(
                task,
                settings=launch_settings,
                config_path=settings.config_path,
                config_name=settings.config_name,
                overrides=overrides,
                task_env_key=settings.task_env_key,
                task_kwargs=task_kwargs,
            )
            if settings.follow and not settings.dry_run:
                from hydra_flyte.integration import run_header

                header = run_header(task=str(task.name), mode=settings.mode, run_options=settings.run_options)
                results = _follow(ctx, results, overrides, started, header)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    except NoEndpointError as exc:
        _fail(ctx, str(exc), exc)
    except SweepFailedError as exc:  # every job is in the summary hydra_flyte printed
        unconfirmed = [o for o in exc.outcomes if isinstance(o.error, ContactLostError)]
        waiting = sum(1 for o in exc.outcomes if isinstance(o.error, WaitingForCapacityError))
        failed = sum(1 for o in exc.outcomes if o.error is not None) - len(unconfirmed) - waiting
        message = f"{failed} of {len(exc.outcomes)} jobs failed."
        if waiting:  # not submitted: the quota stayed full (recorded PLANNED)
            message += (
                f" {waiting} not submitted: the control plane's quota stayed full; resume with the same command "
                "plus --resume MANIFEST."
            )
        if unconfirmed:
            path = next((o.error.manifest_path for o in unconfirmed if o.error.manifest_path), None)
            message = (
                f"{len(unconfirmed)} of {len(exc.outcomes)} jobs unconfirmed (contact with the control plane was "
                f"lost; the runs may well go on), {failed} failed. Reattach with: flyte hydra status "
                f"{path or 'SWEEP'} --wait"
            )
        _fail(ctx, message, exc)
    except ContactLostError as exc:
        _fail(ctx, f"{exc}. Look it up later with `flyte get run {exc.run_name}`.", exc)
    except (RunFailedError, RunNameClashError) as exc:
        _fail(ctx, str(exc), exc)
    except Exception as exc:
        _fail(ctx, f"{type(exc).__name__}: {exc} (rerun as `flyte -v hydra run ...` for the traceback)", exc)
    # A dry run's plan (one line per job, or the single run's) was printed by core, as in every entry point.


def _check_project_and_domain(ctx: click.Context, settings: Settings) -> None:
    """With an endpoint configured, a remote run needs a project and a domain (as `flyte run` checks)."""
    obj = ctx.find_root().obj
    config = getattr(obj, "config", None)
    endpoint = getattr(obj, "endpoint", None) or getattr(getattr(config, "platform", None), "endpoint", None)
    if not endpoint and not os.environ.get("FLYTE_API_KEY"):
        return  # no endpoint at all: hydra_flyte reports that (exit 1)
    task_cfg = getattr(config, "task", None)
    missing = [
        flag
        for key, flag in (("project", "-p/--project"), ("domain", "-d/--domain"))
        if not settings.init_args.get(key) and not getattr(task_cfg, key, None)
    ]
    if missing:
        raise click.UsageError(
            f"a run on {endpoint or 'the Flyte cluster'} needs a project and a domain: pass "
            f"{' and '.join(missing)}, or set task.{'/'.join(m.split('--')[1] for m in missing)} in the Flyte "
            "config file.",
            ctx,
        )


@contextlib.contextmanager
def _environment(variables: dict[str, str] | None) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the previous values."""
    if not variables:
        yield
        return
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
