"""Benchmark: hydra/sweeper=optuna (stock, batches) vs hydra/sweeper=optuna_async (streaming), side by side.

Against the loopback control plane executing every task (4 root slots), 24 trials, n_jobs=4, on
`timed_objective` (workload/bench_tasks.py), which sleeps 1 to 6 s depending on its parameter u,
so batches are uneven. The sweepers alternate, `--reps` times each. Reports per run: wall time,
busy trial-seconds (the sum of each run's time on the control plane, from start to end of its
action), slot utilisation busy / (n_jobs x wall), the floor busy / n_jobs and wall / floor, and the
best value. Writes JSON and, with --markdown, the section `run.py` puts into RESULTS.md
(`python benchmarks/run.py --workloads optuna_async` runs this script and splices the section in).

    DO_NOT_TRACK=1 python benchmarks/optuna_async_bench.py [--reps 2] [--json benchmarks/OPTUNA_ASYNC.json]
        [--markdown SECTION.md] [--trials 24 --jobs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_TRIALS, N_JOBS = 24, 4
#: RESULTS.md's heading of this benchmark's section (run.py replaces the section under it).
HEADING = "## 8. optuna_async vs stock Optuna (streaming trials, `benchmarks/optuna_async_bench.py`)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--json", default=str(HERE / "OPTUNA_ASYNC.json"))
    parser.add_argument("--markdown", default=None, help="write the RESULTS.md section here")
    parser.add_argument("--trials", type=int, default=N_TRIALS)
    parser.add_argument("--jobs", type=int, default=N_JOBS)
    parser.add_argument(
        "--sleep-scale", type=float, default=1.0, help="multiply every trial's sleep (1 + 5u s) by this"
    )
    args = parser.parse_args()
    n_trials, n_jobs = args.trials, args.jobs
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="hf-optuna-bench-"))
    os.environ["HOME"] = str(work / "home")
    os.environ["DO_NOT_TRACK"] = "1"
    (work / "home").mkdir()
    sys.path[:0] = [str(REPO / "tests-integration"), str(HERE / "workload")]
    import flyte
    from bench_tasks import timed_objective
    from flyte_loopback import ControlPlane

    from hydra_flyte import hydra_sweep

    cp = ControlPlane(work / "cp", home=work / "home", root_slots=n_jobs).start()
    flyte.init(endpoint=cp.endpoint, insecure=True, project=cp.project, domain=cp.domain, org=cp.org,
               root_dir=HERE / "workload")  # fmt: skip
    samples: dict[str, list[dict]] = {"optuna": [], "optuna_async": []}
    try:
        for rep in range(args.reps):
            for sweeper in ("optuna", "optuna_async"):
                cp.reset()
                before = set(cp.runs.names())  # reset keeps earlier runs: count this sweep's only
                sweep_dir = work / f"{sweeper}-{rep}"
                start = time.perf_counter()
                results = hydra_sweep(
                    timed_objective,
                    config_path=str(HERE / "workload" / "conf"),
                    config_name="bench",
                    overrides=[
                        f"hydra/sweeper={sweeper}",
                        f"hydra.sweeper.n_trials={n_trials}",
                        f"hydra.sweeper.n_jobs={n_jobs}",
                        f"hydra.sweeper.sampler.seed={rep}",
                        "+u=interval(0.0, 1.0)",
                        "+v=interval(0.0, 1.0)",
                        *([f"+sleep_scale={args.sleep_scale}"] if args.sleep_scale != 1.0 else []),
                        f"hydra.sweep.dir={sweep_dir}",
                    ],  # fmt: skip
                )
                wall = time.perf_counter() - start
                actions = [cp.runs[name].root for name in cp.runs.names() if name not in before]
                busy = sum((a.ended_at - a.started_at).total_seconds() for a in actions)
                floor = busy / n_jobs
                sample = {
                    "wall_s": wall, "busy_s": busy, "utilisation": busy / (n_jobs * wall), "floor_s": floor,
                    "wall_over_floor": wall / floor, "best": min(float(r) for r in results), "runs": len(actions),
                }  # fmt: skip
                samples[sweeper].append(sample)
                print(
                    f"{sweeper} rep {rep}: " + json.dumps({k: round(v, 3) for k, v in sample.items()}),
                    flush=True,
                )
    finally:
        cp.close()
    med = {s: {k: statistics.median(x[k] for x in v) for k in v[0]} for s, v in samples.items()}
    ratio = med["optuna"]["wall_s"] / med["optuna_async"]["wall_s"]
    report = {"n_trials": n_trials, "n_jobs": n_jobs, "reps": args.reps, "samples": samples, "median": med,
              "ratio_stock_over_async": ratio, "sleep_scale": args.sleep_scale, "commit": _commit(), "load": [load_before, os.getloadavg()],
              "versions": _versions(), "argv": sys.argv[1:]}  # fmt: skip
    Path(args.json).write_text(json.dumps(report, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(report, json_name=Path(args.json).name))
    print(json.dumps({"median": med, "ratio_stock_over_async": ratio}, indent=2))
    return 0


def _sleep(report: dict) -> str:
    scale = report.get("sleep_scale", 1.0)
    return "1 + 5u s" if scale == 1.0 else f"{scale:g} x (1 + 5u) s"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("optuna", "hydra-optuna-sweeper", "hydra-core", "flyte"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def markdown(report: dict, *, json_name: str) -> str:
    """The RESULTS.md section: medians per sweeper, the ratio, utilisation, floor and best values."""
    med, n_jobs = report["median"], report["n_jobs"]
    stock, ours = med["optuna"], med["optuna_async"]
    per_rep = [
        s["wall_s"] / a["wall_s"]
        for s, a in zip(report["samples"]["optuna"], report["samples"]["optuna_async"], strict=True)
    ]
    v = report["versions"]
    argv, shown = list(report["argv"]), []
    while argv:  # the sizes, without where the files went
        word = argv.pop(0)
        if word in ("--json", "--markdown"):
            argv[:1] = []
        else:
            shown.append(word)
    ratio = report["ratio_stock_over_async"]
    load = report["load"]
    lines = [
        HEADING,
        "",
        f"Run on commit {report['commit']} by `python benchmarks/run.py --workloads optuna_async` (or "
        f"`benchmarks/optuna_async_bench.py {' '.join(shown)}`); raw samples: [`{json_name}`]({json_name}). "
        f"Loopback control plane in process, {n_jobs} root slots executing every task as an `a0` subprocess; "
        f"{report['n_trials']} trials, `n_jobs={n_jobs}`, `timed_objective` sleeping {_sleep(report)} (u searched in "
        "[0, 1], v in [0, 1]; value (u-0.7)^2 + (v-0.2)^2); TPE, seed = repetition, the same for both sweepers; "
        f"stock `hydra/sweeper=optuna` (hydra-optuna-sweeper {v['hydra-optuna-sweeper']}, Optuna {v['optuna']}) "
        "with our launcher, alternated with `hydra/sweeper=optuna_async`. Busy trial-seconds: each run's action "
        "from start to end on the control plane (it includes the start-up of each `a0` task process, the same "
        f"for every trial). Load average {load[0][0]:.1f} before, {load[1][0]:.1f} after. "
        f"Medians of {report['reps']}:",
        "",
        f"| sweeper | wall s | busy trial-s | utilisation busy/({n_jobs} x wall) | floor busy/{n_jobs}, s "
        "| wall / floor | best value |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in (("optuna", stock), ("optuna_async", ours)):
        lines.append(
            f"| `{name}` | {m['wall_s']:.1f} | {m['busy_s']:.1f} | {m['utilisation']:.2f} | {m['floor_s']:.1f} "
            f"| {m['wall_over_floor']:.2f} | {m['best']:.4f} |"
        )
    lines += [
        "",
        f"- Ratio stock / async wall time: **{ratio:.2f}x** (per repetition: "
        f"{', '.join(f'{r:.2f}x' for r in per_rep)}). Goal >= 1.4x: **{'met' if ratio >= 1.4 else 'not met'}**.",
        f"- Slot utilisation async: **{ours['utilisation']:.2f}** (goal >= 0.85: "
        f"**{'met' if ours['utilisation'] >= 0.85 else 'not met'}**); stock {stock['utilisation']:.2f}.",
        f"- Distance from the floor: async {ours['wall_over_floor']:.2f}x the floor, stock "
        f"{stock['wall_over_floor']:.2f}x.",
        f"- Busy per trial: {stock['busy_s'] / report['n_trials']:.1f} s (stock), "
        f"{ours['busy_s'] / report['n_trials']:.1f} s (async), for sleeps of {_sleep(report).replace('1 + 5u', '1 to 6')}: "
        "the rest is each task process's start-up, the same for every trial, which evens the batches out "
        "(the more so the more loaded the machine).",
        f"- Best value: {stock['best']:.4f} (stock) vs {ours['best']:.4f} (async), medians of {report['reps']} "
        "seeded runs (the optimum is 0).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
