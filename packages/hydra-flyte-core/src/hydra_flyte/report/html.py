"""`sweep_report`: one self-contained HTML file of a sweep, beside its manifest, that opens offline.

The page holds a sortable table of the jobs, the objective against each swept parameter (a
scatter for numbers, a box with every point for choices), the objective in job order with the
running best and, for Optuna sweeps, Optuna's own optimisation history and parameter importances.
Plots are plotly figures (Optuna's visualisation module makes plotly figures too); plotly.js is
inlined once, so the file needs no network. The data behind the plots is embedded as JSON
(`<script type="application/json" id="hydra-flyte-data">`) for scripts and tests to read.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra_flyte.errors import ConfigurationError

if TYPE_CHECKING:
    from hydra_flyte.state.manifest import Manifest

REPORT_NAME = "flyte-sweep-report.html"
REPORT_PIP = 'pip install "hydra-flyte-core[report]"'
DATA_ID = "hydra-flyte-data"


def require_plotly() -> Any:
    """The plotly module, or a ConfigurationError with the pip line that installs the report extra."""
    try:
        import plotly
        import plotly.graph_objects  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"the sweep report needs plotly, which is not installed: {REPORT_PIP}  (or: pip install plotly)"
        ) from exc
    return plotly


def sweep_report(sweep: str | os.PathLike[str], *, output: str | os.PathLike[str] | None = None) -> Path:
    """Write the HTML report of a sweep (a manifest path, its sweep directory or a sweep id); its path.

    The report goes beside the manifest (`flyte-sweep-report.html`) unless `output` says where.
    Works from the manifest alone (local or remote sweeps; no control plane is contacted: run
    `sweep_status` first for the latest phases). Needs the report extra: `pip install
    "hydra-flyte-core[report]"`; a ConfigurationError says so when it is missing.
    """
    from hydra_flyte.remote.reattach import load_manifest
    from hydra_flyte.report.data import is_optuna, report_data, sweeper_config

    require_plotly()
    manifest = load_manifest(sweep)
    sweep_dir = manifest.path.resolve().parent
    data = report_data(manifest, sweep_dir)
    figures = _figures(data)
    config = sweeper_config(sweep_dir)
    if is_optuna(config.get("sweeper", {})):
        data["optuna"], optuna_figures = _optuna(manifest, config, data)
        figures.extend(optuna_figures)
    target = Path(output) if output is not None else sweep_dir / REPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(_page(data, figures), encoding="utf-8")
    os.replace(tmp, target)
    return target


def write_report(manifest: Manifest) -> None:
    """`hydra.launcher.report=true`: the sweep's report beside its manifest (a sweeper's batches rewrite it)."""
    import logging
    import sys

    try:
        path = sweep_report(manifest.path)
    except Exception as exc:  # the results are in the manifest: a report that fails does not fail the sweep
        logging.getLogger(__name__).warning(f"could not write the sweep report: {type(exc).__name__}: {exc}")
        return
    print(f"Sweep report: {path}", file=sys.stderr, flush=True)


def _optuna(manifest: Manifest, config: dict[str, Any], data: dict[str, Any]) -> tuple[Any, list]:
    """Optuna's section, or a note saying why there is none (optuna missing, a space it cannot read)."""
    try:
        from hydra_flyte.report.study import optuna_section

        return optuna_section(
            manifest.records(), config, data["params"], data["direction"], manifest.sweep_id
        )
    except ImportError:
        return {"note": "optuna is not installed here: no optimisation history or importances"}, []
    except Exception as exc:  # e.g. a search space written in a form the report cannot rebuild
        return {"note": f"no Optuna history or importances: {type(exc).__name__}: {exc}"}, []


# -- figures -----------------------------------------------------------------------------------


def _hover(job: dict[str, Any]) -> str:
    return f"job {job['job']}<br>" + "<br>".join(html.escape(o) for o in job["overrides"])


def _figures(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The objective against each swept parameter, then in job order with the running best."""
    import plotly.graph_objects as go

    scored = [j for j in data["jobs"] if j["objective"] is not None]
    if not scored:
        return []
    label = "objective (job value)"
    figures = []
    for param in data["params"]:
        name = param["name"]
        points = [j for j in scored if name in j["params"]]
        xs = [j["params"][name] for j in points]
        ys = [j["objective"] for j in points]
        text = [_hover(j) for j in points]
        if param["kind"] == "numeric":
            trace = go.Scatter(x=xs, y=ys, mode="markers", text=text, hoverinfo="text+y", name=name)
            figure = go.Figure(trace)
            positive = [x for x in xs if x is not None and x > 0]
            if len(positive) == len(xs) and positive and max(positive) / min(positive) >= 100:
                figure.update_xaxes(type="log")
        else:
            trace = go.Box(x=[str(x) for x in xs], y=ys, boxpoints="all", jitter=0.4, pointpos=0,
                           text=text, hoverinfo="text+y", name=name)  # fmt: skip
            figure = go.Figure(trace)
        figure.update_layout(xaxis_title=name, yaxis_title=label, showlegend=False)
        figures.append((f"Objective against {name}", figure))
    order = go.Figure()
    order.add_trace(go.Scatter(x=[j["job"] for j in scored], y=[j["objective"] for j in scored], mode="markers",
                               name="job value", text=[_hover(j) for j in scored], hoverinfo="text+y"))  # fmt: skip
    order.add_trace(go.Scatter(x=[j["job"] for j in scored], y=[j["best_so_far"] for j in scored],
                               mode="lines", line_shape="hv", name=f"best so far ({data['direction']})"))  # fmt: skip
    order.update_layout(xaxis_title="job", yaxis_title=label)
    figures.append(("Objective in job order, with the running best", order))
    return figures


# -- the page ----------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
tr.best { background: #e8f6e8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.err { color: #a00; max-width: 40em; } .note { color: #555; }
"""

# Sorting the table: a click on a header sorts by that column (numbers as numbers), again to reverse.
_SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var key = function (row) { var c = row.cells[col]; return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      var r = (x === "" || y === "") ? (x === "") - (y === "") : (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? r : -r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _cell(value: Any, *, sort: Any = None, cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    if sort is not None:
        attrs += f' data-sort="{html.escape(str(sort), quote=True)}"'
    return f"<td{attrs}>{html.escape('' if value is None else str(value))}</td>"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _table(data: dict[str, Any]) -> str:
    params = [p["name"] for p in data["params"]]
    head = ["job", *params, "phase", "value", "duration (s)", "overrides", "url / error"]
    rows = []
    for job in data["jobs"]:
        cells = [_cell(job["job"], sort=job["job"], cls="num")]
        for name in params:
            value = job["params"].get(name)
            cells.append(_cell(_short(value), sort="" if value is None else value))
        cells.append(_cell(job["phase"]))
        cells.append(_cell(_short(job["value"]), sort="" if job["objective"] is None else job["objective"],
                           cls="num"))  # fmt: skip
        duration = job["duration_seconds"]
        cells.append(_cell("" if duration is None else f"{duration:.2f}", sort="" if duration is None else duration,
                           cls="num"))  # fmt: skip
        cells.append(_cell(" ".join(job["overrides"])))
        if job["error"]:
            cells.append(_cell(job["error"], cls="err"))
        elif job["url"]:
            url = html.escape(job["url"], quote=True)
            cells.append(f'<td><a href="{url}">{html.escape(job["url"])}</a></td>')
        else:
            cells.append(_cell(""))
        best = ' class="best"' if job["job"] == data["best_job"] else ""
        rows.append(f"<tr{best}>{''.join(cells)}</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="sortable"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _summary(data: dict[str, Any]) -> str:
    jobs = data["jobs"]
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job["phase"]] = counts.get(job["phase"], 0) + 1
    phases = ", ".join(f"{n} {p.lower()}" for p, n in sorted(counts.items()))
    best = next((j for j in jobs if j["job"] == data["best_job"]), None)
    lines = [f"{len(jobs)} job{'s' if len(jobs) != 1 else ''} ({phases}), {data['mode']} sweep"
             + (f" of {html.escape(data['task'])}" if data["task"] else "")]  # fmt: skip
    if best is not None:
        lines.append(
            f"Best: job {best['job']} ({html.escape(' '.join(best['overrides']) or 'no overrides')}) with "
            f"{best['objective']:.6g}; {data['direction']} ({html.escape(data['direction_source'])})."
        )
    else:
        lines.append("No job has a numeric value: nothing to plot.")
    optuna = data.get("optuna") or {}
    if optuna.get("note"):
        lines.append(html.escape(optuna["note"]))
    elif optuna:
        lines.append(f"Optuna {optuna['optuna_version']}: study {html.escape(str(optuna['study_name']))} "
                     f"({html.escape(optuna['study_source'])}), {len(optuna['trials'])} trials.")  # fmt: skip
    return "".join(f"<p>{line}</p>" for line in lines)


def _page(data: dict[str, Any], figures: list[tuple[str, Any]]) -> str:
    from plotly.offline import get_plotlyjs

    title = f"Sweep {data['sweep_id']}"
    plots = []
    for heading, figure in figures:
        figure.update_layout(height=420, margin={"t": 30})
        div = figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        plots.append(f"<h2>{html.escape(heading)}</h2>{div}")
    embedded = json.dumps(data, default=str).replace("</", "<\\/")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>{_summary(data)}"
        f'<p class="note">Manifest: {html.escape(data["manifest"])}. Click a column header to sort.</p>'
        f"{_table(data)}{''.join(plots)}"
        f'<script type="application/json" id="{DATA_ID}">{embedded}</script>'
        f"<script>{_SORT_JS}</script></body></html>\n"
    )


def read_report_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The data a report embeds (for scripts and tests)."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index(f'<script type="application/json" id="{DATA_ID}">')
    start = text.index(">", start) + 1
    return json.loads(text[start : text.index("</script>", start)])  # type: ignore[no-any-return]
