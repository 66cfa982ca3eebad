"""`flyte hydra report SWEEP`: write a sweep's self-contained HTML report beside its manifest."""

from __future__ import annotations

from typing import Any

import rich_click as click


@click.command("report", short_help="Write a sweep's HTML report (table and plots) beside its manifest.")
@click.argument("sweep", metavar="SWEEP")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Where to write the report (default: flyte-sweep-report.html beside the manifest).",
)
@click.pass_context
def report(ctx: click.Context, sweep: str, output: str | None) -> Any:
    """
    Write the HTML report of a sweep, local or remote, and print its path.

    SWEEP is the manifest (`flyte-sweep.json`), its sweep directory or the sweep id. The report
    is one file that opens offline in a browser: a sortable table of the jobs, the objective
    against each swept parameter, the objective in job order with the running best, and for
    Optuna sweeps Optuna's optimisation history and parameter importances. It is made from the
    manifest as it is (run `flyte hydra status SWEEP` first to bring a remote sweep up to date).
    Needs the report extra: `pip install "hydra-flyte-core[report]"`.

    Exit status: 0 when the report is written, 1 when the report extra is missing or writing
    fails, 2 for a missing or unreadable manifest.
    """
    from hydra_flyte import ConfigurationError
    from hydra_flyte.integration import require_plotly, sweep_report

    from ._sweeps import _load

    try:
        require_plotly()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = _load(ctx, sweep)  # exit 2, with the reason, when there is no manifest
    try:
        path = sweep_report(manifest.path, output=output)
    except (ConfigurationError, OSError) as exc:
        raise click.ClickException(f"could not write the report: {exc}") from exc
    click.echo(str(path))
