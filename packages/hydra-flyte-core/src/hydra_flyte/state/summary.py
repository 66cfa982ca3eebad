"""The one summary of a run or a sweep: a table for people, or one JSON document for programs.

Every entry point prints it once, when the run or sweep ends: `hydra_run`/`hydra_sweep`,
`hydra/launcher=flyte` and `flyte hydra run/status/rerun`. It is built from sweep-manifest
records (`JobRecord`: job, overrides, run name, URL, phase, value or error, duration), so a
live sweep, a local one and a manifest read back later are shown alike.

- The table (rich, as the Flyte CLI draws its own): one line per job, whatever the sweep's size.
  Overrides every job shares go to the caption once; the rest are clipped, never wrapped. Values
  are rounded for reading (the JSON and the manifest keep full precision); failures show their
  error's first line. When values are numbers, the best job is marked: in the sweeper's direction
  when it has one, else the lowest, and the caption says which.
- The JSON document: one schema for a single run, a sweep and `flyte hydra status` (the keys of
  `DOCUMENT_KEYS`, in that order, each always present: None where a run has no such thing), with
  the manifest's record fields for every job.

It is printed on `state.output.results_stream()`: stdout, while everything else goes to stderr.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from hydra_flyte.settings_schema import SUMMARY_FORMATS as FORMATS  # noqa: F401 - flyte's `-of` names, and none
from hydra_flyte.state.output import results_stream
from hydra_flyte.state.phases import SUCCEEDED

if TYPE_CHECKING:
    from hydra_flyte.state.manifest import JobRecord

OVERRIDES_WIDTH = 48
OUTCOME_WIDTH = 60
BEST_MARK = "★"

# -- values ---------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_value(value: Any) -> str:
    """A value for reading: numbers to six significant digits, tuples element by element."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        short = repr(value)
        return short if len(short) <= 8 else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    return " ".join(str(value).split())


def one_line(error: str | None) -> str:
    """An error's first non-empty line, whitespace collapsed."""
    for line in (error or "").splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the best job ----------------------------------------------------------------------------------


def direction_of(sweeper: Any) -> str | None:
    """'minimize' or 'maximize' from a sweeper config's `direction` (one objective only), else None."""
    try:
        direction = sweeper.get("direction") if sweeper is not None else None
    except Exception:
        return None
    if direction is not None and not isinstance(direction, str):
        try:
            items = list(direction)
        except TypeError:
            items = [direction]
        if len(items) != 1:
            return None  # several objectives: no single best
        direction = items[0]
    if direction is None:
        return None
    name = str(getattr(direction, "name", direction)).lower()
    return name if name in ("minimize", "maximize") else None


def best_job(records: Sequence[Any], direction: str | None) -> int | None:
    """The job number of the best succeeded job with a numeric value (lowest unless `direction` is 'maximize').

    None when fewer than two jobs have a numeric value: there is nothing to compare.
    """
    scored = [r for r in records if r.phase == SUCCEEDED and is_number(r.value)]
    if len(scored) < 2:
        return None
    pick = max if direction == "maximize" else min
    return int(pick(scored, key=lambda r: r.value).job)


def _best_caption(records: Sequence[Any], direction: str | None, best: int | None) -> str:
    if best is None:
        return ""
    if direction == "maximize":
        how = "highest value (the sweeper maximizes)"
    elif direction == "minimize":
        how = "lowest value (the sweeper minimizes)"
    else:
        how = "lowest value (no direction given: minimise assumed)"
    return f"{BEST_MARK} best: job {best}, {how}"


# -- overrides --------------------------------------------------------------------------------------


def common_overrides(records: Sequence[Any]) -> list[str]:
    """The overrides every job of a sweep shares (none for a single job)."""
    if len(records) < 2:
        return []
    first = list(records[0].overrides)
    shared = set(first)
    for record in records[1:]:
        shared &= set(record.overrides)
    return [o for o in first if o in shared]


def job_overrides(record: JobRecord, common: Sequence[str]) -> str:
    """A job's own overrides (those not common to every job), clipped to one short line."""
    own = [o for o in record.overrides if o not in common]
    if not own:
        return "(no overrides)" if not record.overrides else "(only the shared ones)"
    return clip(" ".join(own), OVERRIDES_WIDTH)


# -- the table --------------------------------------------------------------------------------------


def _counts(records: Sequence[Any]) -> str:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.phase] = counts.get(r.phase, 0) + 1
    return ", ".join(f"{n} {phase.lower()}" for phase, n in sorted(counts.items()))


def render(
    records: Sequence[Any],
    *,
    direction: str | None = None,
    title: str | None = None,
    footer: Sequence[str] = (),
    simple: bool = False,
) -> Any:
    """The jobs as a rich Table (job, overrides, phase, value or error, duration, URL when any), then
    the caption lines (counts, shared overrides, the best job, `footer`), which never wrap."""
    import rich.box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    best = best_job(records, direction)
    common = common_overrides(records)
    with_urls = any(r.url for r in records)
    caption = [_counts(records)]
    if common:
        caption.append("every job: " + clip(" ".join(common), 2 * OVERRIDES_WIDTH))
    best_text = _best_caption(records, direction, best)
    if best_text:
        caption.append(best_text)
    caption.extend(footer)
    table = Table(
        title=title,
        title_justify="left",
        box=None if simple else rich.box.SQUARE_DOUBLE_HEAD,
        header_style="bold",
        show_header=True,
    )
    table.add_column("job", justify="right", no_wrap=True)
    table.add_column("overrides", no_wrap=True, overflow="ellipsis", max_width=OVERRIDES_WIDTH)
    table.add_column("phase", no_wrap=True)
    table.add_column("value / error", no_wrap=True, overflow="ellipsis", max_width=OUTCOME_WIDTH)
    table.add_column("duration", justify="right", no_wrap=True)
    if with_urls:
        table.add_column("url", no_wrap=True, overflow="fold")
    for r in records:
        job = f"{r.job} {BEST_MARK}" if r.job == best else str(r.job)
        outcome = one_line(r.error) if r.error else format_value(r.value)
        cells = [
            job,
            job_overrides(r, common),
            r.phase,
            clip(outcome, OUTCOME_WIDTH),
            format_duration(r.duration_seconds),
        ]
        if with_urls:
            cells.append(r.url or "-")
        table.add_row(*cells, style="bold" if r.job == best and not simple else None)
    return Group(table, *(Text(line, no_wrap=True, overflow="ignore") for line in caption))


def render_text(records: Sequence[Any], *, width: int = 200, **kwargs: Any) -> str:
    """The table as plain text, `width` columns at most (what a log file or a pipe gets)."""
    from rich.console import Console

    console = Console(width=width, color_system=None, force_terminal=False, record=True, file=_Discard())
    console.print(render(records, **kwargs))
    return console.export_text()


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def single_record(
    overrides: Sequence[str],
    *,
    result: Any = None,
    error: BaseException | None = None,
    duration: float | None = None,
) -> Any:
    """A single run's record (job 0): its value, or its error; a run not waited for is SUBMITTED."""
    from hydra_flyte.results import RunResult
    from hydra_flyte.state.manifest import JobRecord, jsonable
    from hydra_flyte.state.phases import FAILED, SUBMITTED, SUCCEEDED, UNCONFIRMED

    seconds = None if duration is None else round(duration, 3)
    record = JobRecord(job=0, overrides=list(overrides), duration_seconds=seconds)
    if error is not None:
        from hydra_flyte.errors import ContactLostError

        record.phase = (
            UNCONFIRMED if isinstance(error, ContactLostError) else str(getattr(error, "phase", FAILED))
        )
        record.error = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        record.url = getattr(error, "url", None)
        return record
    if isinstance(result, RunResult):
        record.phase, record.value = SUCCEEDED, jsonable(result.value)
        record.url, record.run_name = result.url, result.name
    elif hasattr(result, "url") and hasattr(result, "name"):  # a submitted flyte Run, not waited for
        record.phase, record.url, record.run_name = SUBMITTED, result.url, result.name
        record.duration_seconds = None
    else:
        record.phase, record.value = SUCCEEDED, jsonable(result)
    return record


# -- the JSON document --------------------------------------------------------------------------------


#: The JSON document's top-level keys, in order, for a single run, a sweep and `flyte hydra status`:
#: - sweep_id, manifest: the sweep's id and its manifest's absolute path; None for a single run;
#: - task: the task's full name (`env.task`); None where the entry point does not know it (the
#:   launcher: the script chooses the task);
#: - mode: "local" or "remote";
#: - project, domain: where remote runs went; None for local ones, or when unknown;
#: - interrupted: whether a Ctrl-C stopped the sweep (always false for a single run);
#: - direction: the sweeper's ("minimize"/"maximize"), else None (a single run has no sweeper);
#: - best_job: the number of the job with the best numeric value in that direction (the lowest
#:   without one); None when fewer than two jobs have a numeric value (so always for a single run);
#: - jobs: one record per job (the manifest's fields; a single run is job 0).
DOCUMENT_KEYS = (
    "sweep_id", "manifest", "task", "mode", "project", "domain", "interrupted", "direction", "best_job", "jobs",
)  # fmt: skip
_HEADER_KEYS = DOCUMENT_KEYS[: DOCUMENT_KEYS.index("direction")]


def run_header(
    *, mode: str, task: str | None = None, run_options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A single run's header of the JSON document: no sweep, project and domain as a sweep's manifest has them."""
    from hydra_flyte.state.manifest import project_and_domain

    project = domain = None
    if mode == "remote":
        options = run_options or {}
        project, domain = project_and_domain(options.get("project"), options.get("domain"))
    return {"task": task, "mode": mode, "project": project, "domain": domain}


def sweep_header(manifest: Any) -> dict[str, Any]:
    """A sweep's header of the JSON document, from its manifest."""
    return {
        "sweep_id": manifest.sweep_id, "manifest": str(manifest.path), "task": manifest.task,
        "mode": manifest.mode, "project": manifest.project, "domain": manifest.domain,
        "interrupted": manifest.interrupted,
    }  # fmt: skip


def document(
    records: Sequence[Any],
    *,
    direction: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON-ready document of the one schema (`DOCUMENT_KEYS`): `header` (sweep id, manifest path,
    task, mode, ...; a key it lacks is None), the direction, the best job, every record."""
    from hydra_flyte.state.manifest import record_dict

    header = dict(header or {})
    unknown = sorted(set(header) - set(_HEADER_KEYS))
    if unknown:
        raise ValueError(f"not keys of the summary's JSON schema: {', '.join(unknown)} (see DOCUMENT_KEYS)")
    doc: dict[str, Any] = {key: header.get(key) for key in _HEADER_KEYS}
    doc["task"] = doc["task"] or None  # a manifest that does not know its task records ""
    doc["interrupted"] = bool(doc["interrupted"])
    doc["direction"] = direction
    doc["best_job"] = best_job(records, direction)
    doc["jobs"] = [record_dict(r) for r in records]
    return doc


# -- printing -------------------------------------------------------------------------------------------


def print_summary(
    records: Sequence[Any],
    *,
    fmt: str = "table",
    direction: str | None = None,
    title: str | None = None,
    footer: Sequence[str] = (),
    header: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Print the summary once, in `fmt` (see FORMATS), on the results stream."""
    if fmt == "none":
        return
    out = stream or results_stream()
    if fmt in ("json", "json-raw"):
        doc = document(records, direction=direction, header=header)
        text = json.dumps(doc, indent=2 if fmt == "json" else None, default=str)
        out.write(text + "\n")
        out.flush()
        return
    from rich.console import Console

    terminal = bool(getattr(out, "isatty", lambda: False)())
    # On a terminal, its width (a long URL folds); in a pipe or a file, wide enough never to fold.
    console = Console(file=out, width=None if terminal else 400, soft_wrap=False)
    console.print(
        render(records, direction=direction, title=title, footer=footer, simple=fmt == "table-simple")
    )
    out.flush()


# -- printed once per sweep ---------------------------------------------------------------------------------

_pending: dict[int, Callable[[], None]] = {}


def defer(owner: object, printer: Callable[[], None]) -> None:
    """Print `printer`'s summary when the sweep ends (`flush_pending`), replacing `owner`'s earlier one.

    For sweepers that launch several batches: the summary of every batch so far waits for the end.
    """
    if not _pending:
        import atexit

        atexit.register(flush_pending)
    _pending[id(owner)] = printer


def forget(owner: object) -> None:
    """`owner`'s deferred summary is printed already (by other means)."""
    _pending.pop(id(owner), None)


def flush_pending() -> None:
    """Print every deferred summary (each once)."""
    while _pending:
        _, printer = _pending.popitem()
        try:
            printer()
        except Exception as exc:  # a summary that cannot be printed must not hide the sweep's outcome
            print(f"[hydra-flyte] could not print the summary: {type(exc).__name__}: {exc}", file=sys.stderr)
