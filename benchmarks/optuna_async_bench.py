"""Benchmark: hydra/sweeper=optuna (stock, batches) vs hydra/sweeper=optuna_async (streaming), side by side.

Against the loopback control plane executing every task (4 root slots), 24 trials, n_jobs=4, on
`timed_objective` (workload/bench_tasks.py), which sleeps 1 to 6 s depending on its parameter u,
so batches are uneven. The sweepers alternate, `--reps` times each. Reports per run: wall time,
busy trial-seconds (the sum of each run's time on the control plane, from start to end of its
action), slot utilisation busy / (n_jobs x wall), the floor busy / n_jobs and wall / floor, and the
best value. Writes a Markdown section and JSON.

    DO_NOT_TRACK=1 python benchmarks/optuna_async_bench.py [--reps 2] [--out benchmarks/OPTUNA_ASYNC.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_TRIALS, N_JOBS = 24, 4


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--json", default=str(HERE / "OPTUNA_ASYNC.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hf-optuna-bench-"))
    os.environ["HOME"] = str(work / "home")
    os.environ["DO_NOT_TRACK"] = "1"
    (work / "home").mkdir()
    sys.path[:0] = [str(REPO / "tests-integration"), str(HERE / "workload")]
    import flyte
    from bench_tasks import timed_objective
    from flyte_loopback import ControlPlane

    from hydra_flyte import hydra_sweep

    cp = ControlPlane(work / "cp", home=work / "home", root_slots=N_JOBS).start()
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
                        f"hydra.sweeper.n_trials={N_TRIALS}",
                        f"hydra.sweeper.n_jobs={N_JOBS}",
                        f"hydra.sweeper.sampler.seed={rep}",
                        "+u=interval(0.0, 1.0)",
                        "+v=interval(0.0, 1.0)",
                        f"hydra.sweep.dir={sweep_dir}",
                    ],  # fmt: skip
                )
                wall = time.perf_counter() - start
                actions = [cp.runs[name].root for name in cp.runs.names() if name not in before]
                busy = sum((a.ended_at - a.started_at).total_seconds() for a in actions)
                floor = busy / N_JOBS
                sample = {
                    "wall_s": wall, "busy_s": busy, "utilisation": busy / (N_JOBS * wall), "floor_s": floor,
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
    report = {"n_trials": N_TRIALS, "n_jobs": N_JOBS, "reps": args.reps, "samples": samples, "median": med,
              "ratio_stock_over_async": ratio}  # fmt: skip
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(json.dumps({"median": med, "ratio_stock_over_async": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
