"""Medians, ratios, goals and the machine description; the Markdown results file."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from typing import Any

import _bench_envs as envs

METRICS = (
    "seconds",
    "main_seconds",
    "sdk_seconds",
    "main_over_sdk",
    "per_job_ms",
    "peak_rss_mb",
    "bare_flyte_per_job_ms",
    "overhead_per_job_ms",
    "compose_per_job_ms",
    "value_ms",
    "group_ms",
    "hydra_value_ms",
    "hydra_group_ms",
    "process_seconds",
)

# ---------------------------------------------------------------- machine


def _first(path: str, prefix: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine(env_by_impl: dict[str, envs.Env], load: tuple[Any, Any]) -> dict[str, Any]:
    mem_kb = _first("/proc/meminfo", "MemTotal")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=envs.REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "packages"], cwd=envs.REPO, capture_output=True, text=True
    ).stdout.strip()
    if commit and dirty:
        commit += " + uncommitted changes under packages/"
    info: dict[str, Any] = {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in load[0]],
        "load_average_end": [round(x, 2) for x in load[1]],
        "git_commit": commit or None,
        "versions": {},
    }
    for impl, env in env_by_impl.items():
        dists = ["flyte", "hydra-core", "omegaconf"]
        dists += ["hydra-flyte-core"] if impl == "ours" else ["flyteplugins-hydra"]
        if impl == "ours":
            info["versions"][impl] = {d: importlib.metadata.version(d) for d in dists}
        else:
            info["versions"][impl] = {d: env.version(d) for d in dists}
    return info


# ---------------------------------------------------------------- figures


def _median(values: list[Any]) -> float | None:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def collect(
    *,
    results: dict[str, Any],
    startup: dict[str, Any],
    env_by_impl: dict[str, envs.Env],
    quick: bool,
    only: str,
    started_at: dt.datetime,
    duration_s: float,
    load: tuple[Any, Any],
) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for key, samples in results.items():
        medians = {
            impl: {m: _median([r.get(m) for r in runs]) for m in METRICS if any(m in r for r in runs)}
            for impl, runs in samples.runs.items()
        }
        ratios = {
            m: _ratio(medians.get("ours", {}).get(m), medians.get("theirs", {}).get(m))
            for m in medians.get("ours", {})
        }
        workloads[key] = {
            "label": samples.workload.label,
            "n": samples.workload.n,
            "reps": {impl: len(runs) for impl, runs in samples.runs.items()},
            "medians": medians,
            "ratio_ours_theirs": {m: r for m, r in ratios.items() if r is not None},
            "all_ok": {impl: all(r.get("ok") for r in runs) for impl, runs in samples.runs.items()},
            "samples": samples.runs,
            "errors": samples.errors,
        }
    data = {
        "mode": "quick" if quick else "full",
        "only": only,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": duration_s,
        "machine": machine(env_by_impl, load),
        "workloads": workloads,
        "startup": startup,
    }
    data["goals"] = goals(data)
    return data


def _get(data: dict[str, Any], key: str, impl: str, metric: str) -> float | None:
    return data["workloads"].get(key, {}).get("medians", {}).get(impl, {}).get(metric)


def paired_ratio(samples: dict[str, list[float]], a: str, b: str) -> float | None:
    """The median of `a[i] / b[i]` over the repetitions: each pair ran back to back.

    The machine's speed drifts by more than the difference measured (runs of the same command
    range over 25% within minutes), so a ratio of the two medians moves with whichever side
    happened to collect more of the slow minutes; pairing cancels the drift.
    """
    first, second = samples.get(a), samples.get(b)
    if not first or not second or len(first) != len(second):
        return None
    return statistics.median(x / y for x, y in zip(first, second, strict=True))


def goals(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue, the figure it is judged on, and PASS / FAIL (n/a if not measured)."""
    g = lambda *a: _get(data, *a)  # noqa: E731

    def goal(
        name: str, figure: str, value: float | None, target: str, ok: Callable[[float], bool], fmt: str
    ) -> dict[str, Any]:
        status = "n/a" if value is None else ("PASS" if ok(value) else "FAIL")
        if data["mode"] == "quick" and value is not None:
            status = f"({status}, quick run)"
        return {
            "goal": name,
            "figure": figure,
            "value": value,
            "shown": "n/a" if value is None else fmt.format(value),
            "target": target,
            "status": status,
        }

    speedup = _ratio(g("submit_200", "theirs", "seconds"), g("submit_200", "ours", "seconds"))
    group_vs_hydra = _ratio(g("compose", "ours", "group_ms"), g("compose", "ours", "hydra_group_ms"))
    local_ratio = _ratio(
        g("local", "ours", "overhead_per_job_ms"), g("local", "theirs", "overhead_per_job_ms")
    )
    help_ratio = paired_ratio(data["startup"].get("samples", {}), "flyte_help_with", "flyte_help_without")
    main_vs_sdk = _get(data, "main_200", "ours", "main_over_sdk")
    main_speedup = _ratio(g("main_200", "theirs", "main_seconds"), g("main_200", "ours", "main_seconds"))
    return [
        goal(
            "`@hydra.main` (guide's pattern) within 1.3x of our SDK, N=200",
            "ours main / ours SDK, median of the paired runs' ratios (whole processes)",
            main_vs_sdk,
            "<= 1.3",
            lambda v: v <= 1.3,
            "{:.2f}",
        ),
        goal(
            "`@hydra.main`, N=200: ours >= 15x faster than theirs",
            "theirs / ours, median seconds (whole processes)",
            main_speedup,
            ">= 15x",
            lambda v: v >= 15,
            "{:.1f}x",
        ),
        goal(
            "N=200 submission: ours >= 20x faster than theirs",
            "theirs / ours, median seconds",
            speedup,
            ">= 20x",
            lambda v: v >= 20,
            "{:.1f}x",
        ),
        goal(
            "1,000-job grid submitted in < 30 s",
            "ours, seconds (wait=False)",
            g("submit_1000", "ours", "seconds"),
            "< 30 s",
            lambda v: v < 30,
            "{:.1f} s",
        ),
        goal(
            "value-only composition < 10 ms/job",
            "ours, ms per job",
            g("compose", "ours", "value_ms"),
            "< 10 ms",
            lambda v: v < 10,
            "{:.1f} ms",
        ),
        goal(
            "group-selection sweeps never slower than Hydra",
            "ours / Hydra, ms per job",
            group_vs_hydra,
            "<= 1.05 (5% noise allowance)",
            lambda v: v <= 1.05,
            "{:.2f}",
        ),
        goal(
            "local per-job overhead <= half of theirs",
            "ours / theirs, overhead ms per job",
            local_ratio,
            "<= 0.50",
            lambda v: v <= 0.5,
            "{:.2f}",
        ),
        goal(
            "`flyte --help` with our CLI within 5% of without",
            "with / without, median of the runs' paired ratios (wall)",
            help_ratio,
            "<= 1.05",
            lambda v: v <= 1.05,
            "{:.3f}",
        ),
        goal(
            "peak memory of the 1,000-job submission < 500 MB",
            "ours, peak RSS of the submitting process",
            g("submit_1000", "ours", "peak_rss_mb"),
            "< 500 MB",
            lambda v: v < 500,
            "{:.0f} MB",
        ),
    ]


# ---------------------------------------------------------------- Markdown


def _f(value: float | None, fmt: str = "{:.1f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _reps(w: dict[str, Any]) -> str:
    return " / ".join(str(w["reps"].get(impl, 0)) for impl in ("ours", "theirs"))


def _main_section(data: dict[str, Any]) -> list[str]:
    """#7: the `@hydra.main` path (the guide's pattern) next to our SDK and theirs, whole processes."""
    w = data["workloads"].get("main_200")
    if w is None:
        return []
    g = lambda *a: _get(data, *a)  # noqa: E731
    out = [
        "## 7. `@hydra.main` submission (the guide's pattern, `wait=false`, record-only control plane)",
        "",
        "`python main_app.py --multirun hydra/launcher=flyte hydra.launcher.wait=false x=range(0,N)`, where "
        "`main` calls `flyte.init_from_config()` then `return flyte.run(objective, cfg=cfg)` "
        "(workload/main_app.py), run with each side's launcher plugin; for ours, the same sweep through "
        "the SDK (`hydra_sweep(..., wait=False)`, workload/sdk_app.py) right after it, against the same "
        "control plane. Wall time of each whole process (interpreter start and imports included).",
        "",
    ]
    out += _table(
        ["jobs", "ours @hydra.main s", "ours SDK s", "ours main / SDK (paired)", "theirs @hydra.main s",
         "theirs / ours (@hydra.main)", "reps ours / theirs"],
        [[
            w["label"], _f(g("main_200", "ours", "main_seconds"), "{:.2f}"),
            _f(g("main_200", "ours", "sdk_seconds"), "{:.2f}"), _f(g("main_200", "ours", "main_over_sdk"), "{:.2f}"),
            _f(g("main_200", "theirs", "main_seconds"), "{:.2f}"),
            _f(_ratio(g("main_200", "theirs", "main_seconds"), g("main_200", "ours", "main_seconds")), "{:.1f}x"),
            _reps(w),
        ]],
    )  # fmt: skip
    return out


def markdown(data: dict[str, Any], *, json_name: str) -> str:
    wl = data["workloads"]
    m = data["machine"]
    g = lambda *a: _get(data, *a)  # noqa: E731
    ratio = lambda key, metric: _f(wl.get(key, {}).get("ratio_ours_theirs", {}).get(metric), "{:.3f}")  # noqa: E731
    out = ["# Benchmark results: hydra-flyte (ours) vs flyteplugins-hydra 2.12.1 (theirs)", ""]
    if data["mode"] == "quick":
        out += [
            "> **Quick smoke run** (tiny N, one repetition): these figures only show the harness works; "
            "they say nothing about the goals.",
            "",
        ]
    if data["only"] == "ours":
        out += ["> Run with `--only ours`: the other package was not measured.", ""]
    out += [
        f"Produced by `python benchmarks/run.py{' --quick' if data['mode'] == 'quick' else ''}"
        f"{' --only ours' if data['only'] == 'ours' else ''}` on {data['started_at']} (commit "
        f"`{m['git_commit']}`), in {data['duration_s'] / 60:.1f} min. Medians over the repetitions shown as "
        f"ours / theirs; ours and theirs alternate per repetition. Ratios are ours / theirs: below 1 means ours "
        f"is faster. Raw samples: [`{json_name}`]({json_name}).",
        "",
        "## Goals",
        "",
    ]
    out += _table(
        ["goal", "judged on", "figure", "target", "status"],
        [[x["goal"], x["figure"], x["shown"], x["target"], f"**{x['status']}**"] for x in data["goals"]],
    )

    out += [
        "## 1. Remote grid-sweep submission (`wait=False`, record-only control plane)",
        "",
        "`hydra_sweep(objective, overrides=['x=range(0,N)'], mode='remote', wait=False)` against the "
        "integration suite's loopback control plane in record-only mode (runs recorded, left QUEUED, not "
        "executed). Wall time of the `hydra_sweep` call.",
        "",
    ]
    rows = []
    for key in ("submit_50", "submit_200", "submit_1000"):
        if key not in wl:
            continue
        w = wl[key]
        rows.append(
            [
                w["label"],
                _f(g(key, "ours", "seconds"), "{:.2f}"),
                _f(g(key, "theirs", "seconds"), "{:.2f}"),
                ratio(key, "seconds"),
                _f(g(key, "ours", "per_job_ms")),
                _f(g(key, "theirs", "per_job_ms")),
                _reps(w),
            ]
        )
    out += _table(
        ["jobs", "ours s", "theirs s", "ratio", "ours ms/job", "theirs ms/job", "reps ours / theirs"], rows
    )

    out += [
        "## 2. Remote sweep, waiting, tasks executed",
        "",
        "Same sweep with `wait=True`; the control plane runs every task as an `a0` subprocess of the "
        "respective venv (2 concurrent root slots, as on this 2-core machine). Wall time until every result "
        "is back; values checked.",
        "",
    ]
    if "wait_20" in wl:
        w = wl["wait_20"]
        out += _table(
            ["jobs", "ours s", "theirs s", "ratio", "reps ours / theirs"],
            [
                [
                    w["label"],
                    _f(g("wait_20", "ours", "seconds"), "{:.2f}"),
                    _f(g("wait_20", "theirs", "seconds"), "{:.2f}"),
                    ratio("wait_20", "seconds"),
                    _reps(w),
                ]
            ],
        )

    out += [
        "## 3. Local-mode sweep",
        "",
        "`hydra_sweep(..., mode='local')`, per job. *Bare flyte* is `flyte.with_runcontext(mode='local')"
        ".run(objective, cfg=...)` on precomposed configs in the same process; *overhead* is per job minus "
        "bare flyte, the part the SDK adds.",
        "",
    ]
    if "local" in wl:
        w = wl["local"]
        rows = [
            [name, _f(g("local", "ours", metric)), _f(g("local", "theirs", metric)), ratio("local", metric)]
            for name, metric in (
                ("ms per job", "per_job_ms"),
                ("bare flyte ms per job", "bare_flyte_per_job_ms"),
                ("overhead ms per job", "overhead_per_job_ms"),
                ("of which composition ms per job", "compose_per_job_ms"),
            )
        ]
        out += [f"{w['label']}, reps ours / theirs: {_reps(w)}", ""]
        out += _table(["", "ours", "theirs", "ratio"], rows)

    out += [
        "## 4. Composition alone",
        "",
        "Per-job composition. *Hydra* is Hydra's own `ConfigLoader.load_sweep_config` on a master config, once "
        "per job (measured in our venv). Ours and theirs: time spent inside `load_sweep_config` during a local "
        "`hydra_sweep` (Hydra's full runtime calls it twice per job: when BasicSweeper validates the batch and "
        "when the launcher composes the job; hydra_flyte's launcher calls `load_job_config` instead, which hands "
        "over the config composed for the validation, and is timed too), unless the SDK provides its own "
        "composition step (`compose_jobs` hook in drivers/driver.py).",
        "",
    ]
    if "compose" in wl:
        w = wl["compose"]
        rows = []
        for name, kind in (
            ("value-only (`x=...`)", "value"),
            ("group selections (`model=small,large x=...`)", "group"),
        ):
            ours_v, hydra_v = g("compose", "ours", f"{kind}_ms"), g("compose", "ours", f"hydra_{kind}_ms")
            rows.append(
                [
                    name,
                    _f(ours_v),
                    _f(g("compose", "theirs", f"{kind}_ms")),
                    _f(hydra_v),
                    ratio("compose", f"{kind}_ms"),
                    _f(_ratio(ours_v, hydra_v), "{:.2f}"),
                ]
            )
        out += [f"{w['label']} (group sweep: N/2 values x 2 models), reps ours / theirs: {_reps(w)}", ""]
        out += _table(
            ["sweep", "ours ms/job", "theirs ms/job", "Hydra ms/job", "ours / theirs", "ours / Hydra"], rows
        )
        methods = {s.get("value_method") for runs in w["samples"].values() for s in runs}
        methods |= {s.get("group_method") for runs in w["samples"].values() for s in runs}
        out += ["Measured by: " + "; ".join(sorted(x for x in methods if x)) + ".", ""]

    out += _main_section(data)
    st = data["startup"] or {"reps": 0, "method": "not measured in this run (--workloads)"}
    med = st.get("median_ms", {})
    out += [
        "## 5. Start-up cost",
        "",
        f"Median of {st['reps']} alternating runs each. Setup: {st['method']}.",
        "",
    ]
    cpu = st.get("median_cpu_ms", {})

    def row(name: str, key: str) -> list[str]:
        return [name, _f(med.get(key), "{:.0f}"), _f(cpu.get(key), "{:.0f}")]

    def diff(d: dict[str, float], a: str, b: str) -> str:
        return _f(None if d.get(a) is None or d.get(b) is None else d[a] - d[b], "{:+.0f}")

    rows = [
        row("`flyte --help` without flyte-hydra-cli", "flyte_help_without"),
        row("`flyte --help` with flyte-hydra-cli", "flyte_help_with"),
        [
            "ratio with / without (median of the paired runs' ratios)",
            _f(paired_ratio(st.get("samples", {}), "flyte_help_with", "flyte_help_without"), "{:.3f}"),
            _f(paired_ratio(st.get("cpu_samples", {}), "flyte_help_with", "flyte_help_without"), "{:.3f}"),
        ],
        [
            "ratio of the medians, for reference",
            _f(_ratio(med.get("flyte_help_with"), med.get("flyte_help_without")), "{:.3f}"),
            _f(_ratio(cpu.get("flyte_help_with"), cpu.get("flyte_help_without")), "{:.3f}"),
        ],
        row("`flyte --help` in theirs' venv (flyteplugins-hydra, for reference)", "flyte_help_theirs"),
        row("trivial `@hydra.main` app, without our launcher plugin", "hydra_app_without"),
        row("trivial `@hydra.main` app, with our launcher plugin", "hydra_app_with"),
        [
            "added by the plugin (with - without)",
            diff(med, "hydra_app_with", "hydra_app_without"),
            diff(cpu, "hydra_app_with", "hydra_app_without"),
        ],
        [
            "`-X importtime` of the app: self time of the modules imported only with the plugin"
            + (" (here: our own modules)" if "flyte_help_without" not in med else ""),
            _f(st.get("plugin_imports", {}).get("ms"), "{:.1f}"),
            "",
        ],
    ]
    out += _table(["measurement", "wall ms", "CPU ms (user+sys)"], rows)
    out += [
        "Wall time is what the goal is judged on; CPU time is less sensitive to other load on the machine. "
        "Hydra's plugin scan loads `hydra_plugins.hydra_flyte_plugin` itself without the import system, "
        "so `-X importtime` sees only what that module imports, not its own body; the wall-clock difference "
        "is the whole cost (and mostly noise at this size).",
        "",
    ]
    if st.get("plugin_imports", {}).get("modules"):
        out += [
            "Modules the plugin adds to the app's start: "
            + ", ".join(f"`{x}`" for x in st["plugin_imports"]["modules"])
            + ".",
            "",
        ]
    if "hydra_listed" in st:
        out += [
            f"`hydra` listed by `flyte --help`: with {st['hydra_listed']['with']}, "
            f"without {st['hydra_listed']['without']}.",
            "",
        ]

    out += [
        "## 6. Peak memory",
        "",
        "Peak resident set size (`ru_maxrss`) of the process that submits the sweep (the control plane runs in "
        "its own process and is not counted).",
        "",
    ]
    rows = []
    for key in ("submit_50", "submit_200", "submit_1000"):
        if key in wl:
            rows.append(
                [
                    wl[key]["label"],
                    _f(g(key, "ours", "peak_rss_mb"), "{:.0f}"),
                    _f(g(key, "theirs", "peak_rss_mb"), "{:.0f}"),
                ]
            )
    out += _table(["jobs", "ours MB", "theirs MB"], rows)

    out += ["## Machine", ""]
    versions = "; ".join(
        f"{impl}: " + ", ".join(f"{d} {v}" for d, v in vs.items()) for impl, vs in m["versions"].items()
    )
    out += _table(
        ["", ""],
        [
            ["CPU", m["cpu"]],
            ["cores (usable)", f"{m['cores']} ({m['usable_cores']})"],
            ["memory", f"{m['memory_gb']} GB"],
            ["OS", m["os"]],
            ["Python", m["python"]],
            ["versions", versions],
            ["load average at start / end", f"{m['load_average_start']} / {m['load_average_end']}"],
            ["started", data["started_at"]],
            ["duration", f"{data['duration_s']:.0f} s"],
        ],
    )
    out += [
        "The machine is shared and noisy: ours and theirs alternate so that drifts in load hit both, and "
        "medians are reported, but single figures can move by 10-20% between runs.",
        "",
    ]

    errors = [(key, e) for key, w in wl.items() for e in w["errors"]]
    bad = [(key, impl) for key, w in wl.items() for impl, ok in w["all_ok"].items() if not ok]
    out += ["## Errors and checks", ""]
    if not errors and not bad:
        out += [
            "Every repetition finished, and every check passed (job counts, runs recorded by the control "
            "plane, result values).",
            "",
        ]
    for key, e in errors:
        out.append(f"- {key}: {e}")
    for key, impl in bad:
        out.append(f"- {key}: a check failed for {impl} (see `ok` in the raw samples)")
    return "\n".join(out).rstrip() + "\n"
