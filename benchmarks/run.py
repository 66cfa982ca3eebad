"""Benchmark hydra-flyte side by side with flyteplugins-hydra==2.12.1, in one run.

    DO_NOT_TRACK=1 python benchmarks/run.py [--quick] [--only ours] [--out benchmarks/RESULTS.md]
        [--workloads submit_200,main_200,optuna_async,...]

Builds (or reuses) the other package's venv under benchmarks/.venvs/, runs every workload as a
driver subprocess in the right venv, alternating ours and theirs per repetition, and writes the
medians, ratios ours/theirs and the goals to a Markdown file plus the raw samples to JSON.
See benchmarks/README.md for what each workload measures.

`optuna_async` (#8, optuna_async_bench.py: stock Optuna vs optuna_async, ours only) runs in this
process's Python in a full run or when named in --workloads (not in --quick unless named); its
section of the results file is replaced when it runs and kept as it was otherwise, and a run of
--workloads optuna_async alone changes only that section. `quota` (#10, quota_bench.py: a 200-job
sweep under a quota of 16 unfinished runs beside no quota, ours only) is run and kept the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _bench_envs as envs
import _bench_report as report

BENCH_DIR = Path(__file__).resolve().parent
DRIVER = BENCH_DIR / "drivers" / "driver.py"
HYDRA_APP = BENCH_DIR / "drivers" / "hydra_app.py"
LOGS = envs.WORK / "logs" / time.strftime("%Y%m%d-%H%M%S")  # one directory per invocation
OPTUNA_WORKLOAD = "optuna_async"
OPTUNA_BENCH = BENCH_DIR / "optuna_async_bench.py"
OPTUNA_HEADING = "## 8. optuna_async vs stock Optuna"
QUOTA_WORKLOAD = "quota"
QUOTA_BENCH = BENCH_DIR / "quota_bench.py"
QUOTA_HEADING = "## 10. A 200-job sweep under a run quota"
#: Workloads run as scripts of their own, each writing its own section (kept as it was when not run).
SCRIPT_WORKLOADS = (OPTUNA_WORKLOAD, QUOTA_WORKLOAD)
#: Section 9, written by benchmarks/tricks.py by hand: every run.py run keeps it as it was.
TRICKS_HEADING = "## 9. Speed tricks"
#: Section 11, written by benchmarks/durable_bench.py by hand: every run.py run keeps it as it was.
DURABLE_HEADING = "## 11. Detached vs attached"
#: Section 12, written by hand from benchmarks/dry_run_bench.py: every run.py run keeps it as it was.
DRY_RUN_HEADING = "## 12. A 2,000-job dry run"


@dataclass(frozen=True)
class Workload:
    """One row of the plan: a driver workload at one N, with repetitions per implementation."""

    key: str  # e.g. "submit_200"
    driver: str  # driver.py workload name
    n: int
    reps: dict[str, int]  # implementation -> repetitions
    label: str  # e.g. "N=200"


def plan(quick: bool, impls: list[str]) -> list[Workload]:
    """Every workload, in the order they run; theirs is skipped where the issue asks for ours alone."""

    def w(key: str, driver: str, n: int, full_n: int, ours: int, theirs: int) -> Workload:
        reps = (
            {"ours": ours, "theirs": theirs}
            if not quick
            else {"ours": min(ours, 1), "theirs": min(theirs, 1)}
        )
        reps = {impl: r for impl, r in reps.items() if impl in impls and r > 0}
        label = f"N={full_n}" if not quick else f"N={n} (full run: {full_n})"
        return Workload(key, driver, n if quick else full_n, reps, label)

    return [
        w("compose", "compose", 4, 50, ours=2, theirs=2),
        w("local", "local", 3, 50, ours=3, theirs=3),
        w("submit_50", "submit", 4, 50, ours=3, theirs=3),
        w("submit_200", "submit", 6, 200, ours=3, theirs=3),
        w("wait_20", "wait", 2, 20, ours=2, theirs=2),
        w("submit_1000", "submit", 8, 1000, ours=1, theirs=0),
        w("main_200", "main", 6, 200, ours=3, theirs=2),
    ]


@dataclass
class Samples:
    """Figures of every repetition of one workload, per implementation, plus failures."""

    workload: Workload
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def median(self, impl: str, key: str) -> float | None:
        values = [r[key] for r in self.runs.get(impl, []) if isinstance(r.get(key), (int, float))]
        return statistics.median(values) if values else None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLYTECTL_CONFIG", "UCTL_CONFIG")}
    env.update(DO_NOT_TRACK="1", FLYTE_DISABLE_TELEMETRY="1", PYTHONDONTWRITEBYTECODE="1")
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


def run_driver(env_: envs.Env, workload: Workload, impl: str, rep: int) -> dict[str, Any]:
    """One repetition in a fresh HOME and working directory; the driver's figures."""
    LOGS.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{workload.key}-{impl}-", dir=envs.WORK))
    home, cwd, out = scratch / "home", scratch / "cwd", scratch / "figures.json"
    home.mkdir()
    cwd.mkdir()
    log_path = LOGS / f"{workload.key}-{impl}-{rep}.log"
    argv = [
        str(env_.python),
        str(DRIVER),
        workload.driver,
        "--impl",
        impl,
        "--n",
        str(workload.n),
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    try:
        with log_path.open("w") as log_file:
            proc = subprocess.run(
                argv, cwd=cwd, env=bench_env(home), stdout=log_file, stderr=subprocess.STDOUT, timeout=3600
            )
        if proc.returncode != 0 or not out.exists():
            tail = log_path.read_text().strip().splitlines()[-3:]
            raise RuntimeError(f"driver exited {proc.returncode}: {' | '.join(tail)} (log: {log_path})")
        figures = json.loads(out.read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures["process_seconds"] = time.perf_counter() - start
    return figures


def run_workload(workload: Workload, env_by_impl: dict[str, envs.Env]) -> Samples:
    """Alternate implementations per repetition: ours, theirs, ours, theirs, ..."""
    samples = Samples(workload)
    for rep in range(max(workload.reps.values(), default=0)):
        for impl in ("ours", "theirs"):
            if rep >= workload.reps.get(impl, 0):
                continue
            log(f"{workload.key} {workload.label} {impl} rep {rep + 1}/{workload.reps[impl]}")
            try:
                figures = run_driver(env_by_impl[impl], workload, impl, rep)
            except Exception as exc:  # one failed repetition must not lose the others
                samples.errors.append(f"{impl} rep {rep + 1}: {exc}")
                log(f"  failed: {exc}")
                continue
            samples.runs.setdefault(impl, []).append(figures)
            shown = {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in figures.items()
                if k
                in (
                    "seconds",
                    "main_seconds",
                    "sdk_seconds",
                    "main_over_sdk",
                    "per_job_ms",
                    "overhead_per_job_ms",
                    "value_ms",
                    "group_ms",
                    "peak_rss_mb",
                    "ok",
                )
            }
            log(f"  {shown}")
    return samples


# ---------------------------------------------------------------- start-up (#5)


def time_command(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


OUR_MODULE_PREFIXES = (
    "hydra_flyte",
    "hydra_plugins.hydra_flyte_plugin",
    "hydra_plugins._hydra_flyte_core",
    "flyte_hydra_cli",
)


def import_profile(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, int]:
    """Module -> self import time (us) of one run under `python -X importtime`."""
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True
    )
    profile = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+\d+\s+\|\s+(\S.*)$", line)
        if match:
            profile[match.group(2).strip()] = int(match.group(1))
    return profile


def added_import_ms(
    with_: tuple[list[str], dict[str, str]],
    without: tuple[list[str], dict[str, str]] | None,
    cwd: Path,
    reps: int = 5,
) -> dict[str, Any]:
    """Import time the plugin adds to the app's start: self time of every module imported only with it.

    Without a 'without' side, the self time of our own modules only. Median over `reps` runs.
    """
    baseline = set(import_profile(*without, cwd)) if without is not None else None
    totals, added_modules = [], set()
    for _ in range(reps):
        profile = import_profile(*with_, cwd)
        if baseline is not None:
            added = {m: us for m, us in profile.items() if m not in baseline}
        else:
            added = {m: us for m, us in profile.items() if m.startswith(OUR_MODULE_PREFIXES)}
        added_modules |= set(added)
        totals.append(sum(added.values()) / 1000.0)
    return {"ms": statistics.median(totals), "modules": sorted(added_modules)}


def measure_startup(reps: int, only_ours: bool) -> dict[str, Any]:
    """`flyte --help` and a trivial @hydra.main app, with and without our packages, alternating."""
    scratch = Path(tempfile.mkdtemp(prefix="startup-", dir=envs.WORK))
    empty = scratch / "empty"
    empty.mkdir()
    result: dict[str, Any] = {"reps": reps, "samples": {}}
    variants: dict[str, tuple[list[str], dict[str, str]]] = {}
    try:
        home = scratch / "home"
        home.mkdir()
        if only_ours:
            ours = envs.ours()
            env = bench_env(home)
            variants["flyte_help_with"] = ([str(ours.bin_dir / "flyte"), "--help"], env)
            variants["hydra_app_with"] = ([str(ours.python), str(HYDRA_APP)], env)
            result["method"] = "this venv only (--only ours): no 'without' side"
        else:
            bare = envs.bare()
            site = envs.our_site_dir()
            without, with_ = bench_env(home, PYTHONPATH=str(empty)), bench_env(home, PYTHONPATH=str(site))
            variants["flyte_help_without"] = ([str(bare.bin_dir / "flyte"), "--help"], without)
            variants["flyte_help_with"] = ([str(bare.bin_dir / "flyte"), "--help"], with_)
            variants["hydra_app_without"] = ([str(bare.python), str(HYDRA_APP)], without)
            variants["hydra_app_with"] = ([str(bare.python), str(HYDRA_APP)], with_)
            theirs = envs.theirs()
            variants["flyte_help_theirs"] = ([str(theirs.bin_dir / "flyte"), "--help"], bench_env(home))
            result["method"] = (
                "venv flyte-bare (flyte, hydra-core, omegaconf, flyteplugins-omegaconf at our versions); "
                "'with' adds PYTHONPATH=<pip --target install of our three packages from the current sources>, "
                "'without' PYTHONPATH=<empty directory>"
            )
            help_with = subprocess.run(
                variants["flyte_help_with"][0], env=with_, capture_output=True, text=True
            )
            help_without = subprocess.run(
                variants["flyte_help_without"][0], env=without, capture_output=True, text=True
            )
            result["hydra_listed"] = {
                "with": " hydra " in help_with.stdout,
                "without": " hydra " in help_without.stdout,
            }
        result["plugin_imports"] = added_import_ms(
            variants["hydra_app_with"], variants.get("hydra_app_without"), scratch, reps=2 if reps < 5 else 5
        )
        for argv, env in variants.values():  # warm the page cache and .pyc files once
            subprocess.run(argv, env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for rep in range(reps):  # reverse the order every other repetition: no variant always goes first
            order = list(variants.items()) if rep % 2 == 0 else list(reversed(variants.items()))
            for name, (argv, env) in order:
                wall, cpu = time_command(argv, env, scratch)
                result["samples"].setdefault(name, []).append(wall)
                result.setdefault("cpu_samples", {}).setdefault(name, []).append(cpu)
        log(f"start-up: { {k: round(statistics.median(v) * 1000) for k, v in result['samples'].items()} } ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["median_ms"] = {k: 1000 * statistics.median(v) for k, v in result["samples"].items()}
    result["median_cpu_ms"] = {
        k: 1000 * statistics.median(v) for k, v in result.get("cpu_samples", {}).items()
    }
    return result


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: tiny N, one repetition")
    parser.add_argument(
        "--only",
        choices=("ours", "both"),
        default="both",
        help="'ours' skips the other package (no extra venvs are built)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md", help="Markdown results file")
    parser.add_argument("--json", type=Path, default=None, help="raw samples (default: --out with .json)")
    parser.add_argument(
        "--workloads",
        default=None,
        help="comma-separated workload keys (e.g. main_200,submit_200,optuna_async,quota) to run only those; "
        "start-up (#5) is skipped; optuna_async or quota alone rewrites only its own section",
    )
    args = parser.parse_args(argv)
    os.environ["DO_NOT_TRACK"] = "1"
    json_path = args.json or args.out.with_suffix(".json")
    impls = ["ours"] if args.only == "ours" else ["ours", "theirs"]
    chosen = set(args.workloads.split(",")) if args.workloads else None
    run_optuna = OPTUNA_WORKLOAD in chosen if chosen is not None else not args.quick
    run_quota = QUOTA_WORKLOAD in chosen if chosen is not None else not args.quick
    drivers = chosen is None or bool(chosen - set(SCRIPT_WORKLOADS))
    previous = args.out.read_text() if args.out.is_file() else ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    text = previous
    if drivers:
        data = run_drivers(args, impls, chosen)
        json_path.write_text(json.dumps(data, indent=2, default=str))
        text = report.markdown(data, json_name=json_path.name)
        log(f"wrote {json_path} in {data['duration_s']:.0f} s")
        errors += [e for w in data["workloads"].values() for e in w["errors"]]
    section = previous_section(previous)
    if run_optuna:  # a failed run keeps the earlier figures (and fails the command)
        measured, error = run_optuna_bench(args.out.parent, quick=args.quick)
        section = measured or section
        errors += [error] if error else []
    text = splice_section(text, section)
    text = splice_section(text, previous_section(previous, TRICKS_HEADING), TRICKS_HEADING)
    quota_section = previous_section(previous, QUOTA_HEADING)
    if run_quota:  # as for #8: a failed run keeps the earlier figures (and fails the command)
        measured, error = run_quota_bench(args.out.parent, quick=args.quick)
        quota_section = measured or quota_section
        errors += [error] if error else []
    text = splice_section(text, quota_section, QUOTA_HEADING)
    for heading in (DURABLE_HEADING, DRY_RUN_HEADING):
        text = splice_section(text, previous_section(previous, heading), heading)
    args.out.write_text(text)
    log(f"wrote {args.out}")
    return 1 if errors else 0


def run_drivers(args: argparse.Namespace, impls: list[str], chosen: set[str] | None) -> dict[str, Any]:
    """The driver workloads (#1-#7) and start-up (#5, in a full run), side by side; the report's data."""
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc)
    envs.WORK.mkdir(parents=True, exist_ok=True)

    env_by_impl = {"ours": envs.ours()}
    if "theirs" in impls:
        env_by_impl["theirs"] = envs.theirs()
    log("byte-compiling the environments (once; later runs find them up to date)")
    envs.compile_bytecode(env_by_impl["ours"], *envs.our_source_trees())
    if "theirs" in env_by_impl:
        envs.compile_bytecode(
            env_by_impl["theirs"], envs.REPO / "tests-integration", envs.BENCH_DIR / "workload"
        )
    load_before = os.getloadavg()

    startup = {} if chosen else measure_startup(reps=2 if args.quick else 25, only_ours=args.only == "ours")
    results = {}
    for workload in plan(args.quick, impls):
        if chosen is not None and workload.key not in chosen:
            continue
        results[workload.key] = run_workload(workload, env_by_impl)

    return report.collect(
        results=results,
        startup=startup,
        env_by_impl=env_by_impl,
        quick=args.quick,
        only=args.only,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        load=(load_before, os.getloadavg()),
    )


def run_optuna_bench(out_dir: Path, *, quick: bool) -> tuple[str | None, str | None]:
    """Run optuna_async_bench.py (this Python: it needs optuna and hydra-optuna-sweeper); its section, or an error."""
    # Scale 1 is the 1-6 s; 3 (3-18 s) shows trials long beside a task's start-up, as on a cluster.
    size = (
        ["--reps", "1", "--trials", "8", "--jobs", "2"] if quick else ["--reps", "3", "--sleep-scales", "1,3"]
    )
    return _run_section_script(
        OPTUNA_BENCH, OPTUNA_WORKLOAD, size, out_dir / "OPTUNA_ASYNC.json", "optuna_async.log"
    )


def run_quota_bench(out_dir: Path, *, quick: bool) -> tuple[str | None, str | None]:
    """Run quota_bench.py (this Python: it starts the loopback control plane in process); its section, or an error."""
    size = ["--jobs", "40", "--quota", "8", "--reps", "1"] if quick else ["--reps", "2"]
    return _run_section_script(QUOTA_BENCH, QUOTA_WORKLOAD, size, out_dir / "QUOTA.json", "quota.log")


def _run_section_script(
    script: Path, workload: str, size: list[str], json_path: Path, log_name: str
) -> tuple[str | None, str | None]:
    """Run a benchmark script that writes its samples to `json_path` and its RESULTS.md section; the section, or an error."""
    with tempfile.TemporaryDirectory() as tmp:
        section_path = Path(tmp) / "section.md"
        argv = [sys.executable, str(script), *size, "--json", str(json_path), "--markdown", str(section_path)]
        log(f"{workload}: {' '.join(argv[1:])}")
        proc = subprocess.run(argv, env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True)
        LOGS.mkdir(parents=True, exist_ok=True)
        (LOGS / log_name).write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not section_path.is_file():
            error = f"{workload}: exit {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"
            log(error)
            return None, f"{error} (log: {LOGS / log_name})"
        return section_path.read_text(), None


def previous_section(text: str, heading: str = OPTUNA_HEADING) -> str:
    """The section under `heading` (optuna_async's by default) of an earlier results file ('' if it has none)."""
    start = text.find(heading)
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start : end + 1]


def splice_section(text: str, section: str, heading: str = OPTUNA_HEADING) -> str:
    """`text` with its section under `heading` replaced by `section` (appended if it has none)."""
    if not section:
        return text
    old = previous_section(text, heading)
    if old:
        last = text.endswith(old)
        return text.replace(old, section.rstrip("\n") + ("\n" if last else "\n\n"))
    return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.exit(main())
