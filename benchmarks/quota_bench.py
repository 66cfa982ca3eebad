"""Benchmark: a 200-job remote sweep under a quota of 16 unfinished runs, side by side with no quota.

A hosted Flyte control plane answers RESOURCE_EXHAUSTED past its quota of unfinished runs, and
hydra-flyte waits for capacity (remote/capacity.py) instead of failing the jobs. This measures what
that costs: the same grid sweep (`x=0..N-1` of workload/bench_tasks.objective, `hydra_sweep`,
`wait=True`) against a loopback control plane (hosted profile) with `set_run_quota(16)` and with
no quota, alternated, `--reps` times each.

Runs are simulated, so that the quota, not this 2-core machine, is what limits the sweep: each run
is held RUNNING for `--run-seconds` (no task process, no CPU), then finished SUCCEEDED with the
value `objective` would return written as its outputs (the sweep reads and checks them). Without a
quota all N runs are RUNNING at once; under the quota at most 16 are unfinished.

Figures per sweep, from the control plane's own record of the requests (`time.monotonic()`, one process):
- wall: the `hydra_sweep` call, until every value is back;
- submission: from the call's start to the last CreateRun that created a run;
- capacity waits: per job, from its first CreateRun to the one that created its run (the jobs the
  quota turned away at least once), and how many CreateRuns were answered RESOURCE_EXHAUSTED;
- delay: per job, from the sweep's first CreateRun (every job is ready by then) to its run's
  creation: what waiting for capacity cost each job, counting the time it queued behind the
  `submit_max_workers` jobs that were trying;
- the durations the manifest recorded (from a run's confirmed creation to its end as seen here);
- hand-over, under the quota: from a run's end to the creation of the run that takes its slot (the
  k-th run to end frees the slot of the (quota + k)-th run created);
- floor: ceil(N / 16) x run-seconds under the quota (16 slots always busy), run-seconds without,
  against the time from the sweep's first CreateRun to its end (composing the jobs and bundling the
  code come first and cost the same with or without a quota); utilisation: busy run-seconds /
  (16 x that time) under the quota, / (N x that time) without.

    DO_NOT_TRACK=1 python benchmarks/quota_bench.py [--jobs 200 --quota 16 --run-seconds 2 --reps 2]
        [--json benchmarks/QUOTA.json] [--markdown SECTION.md]

`python benchmarks/run.py --workloads quota` runs it and puts its section into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _bench_provenance import commit, versions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: RESULTS.md's heading of this benchmark's section (run.py replaces the section under it).
HEADING = "## 10. A 200-job sweep under a run quota (`benchmarks/quota_bench.py`)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--quota", type=int, default=16)
    parser.add_argument("--run-seconds", type=float, default=2.0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--json", default=str(HERE / "QUOTA.json"))
    parser.add_argument("--markdown", default=None, help="write the RESULTS.md section here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="hf-quota-bench-"))
    os.environ["HOME"] = str(work / "home")
    os.environ["DO_NOT_TRACK"] = "1"
    (work / "home").mkdir()
    sys.path[:0] = [str(REPO / "tests-integration"), str(HERE / "workload")]
    import flyte
    from bench_tasks import expected, objective
    from flyte_loopback import ControlPlane

    from hydra_flyte import hydra_sweep

    cp = ControlPlane(work / "cp", home=work / "home", profile="hosted").start()
    flyte.init(endpoint=cp.endpoint, insecure=True, project=cp.project, domain=cp.domain, org=cp.org,
               root_dir=HERE / "workload")  # fmt: skip
    samples: dict[str, list[dict[str, Any]]] = {"no quota": [], f"quota {args.quota}": []}
    finisher = Finisher(cp, args.run_seconds)
    try:
        finisher.start()
        for rep in range(args.reps):
            for side, quota in (("no quota", None), (f"quota {args.quota}", args.quota)):
                sample = one_sweep(
                    cp, hydra_sweep, objective, expected, work, side, quota, rep, args, finisher
                )
                samples[side].append(sample)
                shown = {
                    k: round(v, 3) if isinstance(v, float) else v for k, v in sample.items() if k != "waits"
                }
                print(f"{side} rep {rep}: {json.dumps(shown)}", flush=True)
    finally:
        finisher.stop()
        cp.close()
    figures = [k for k, v in samples["no quota"][0].items() if isinstance(v, (int, float))]
    medians = {
        side: {k: statistics.median(s[k] for s in runs) for k in figures} for side, runs in samples.items()
    }
    report = {"jobs": args.jobs, "quota": args.quota, "run_seconds": args.run_seconds, "reps": args.reps,
              "samples": samples, "median": medians, "commit": commit(REPO), "load": [load_before, os.getloadavg()],
              "versions": versions("flyte", "hydra-core", "protovalidate"), "argv": sys.argv[1:]}  # fmt: skip
    Path(args.json).write_text(json.dumps(report, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(report, json_name=Path(args.json).name))
    print(json.dumps(medians, indent=2))
    return 0


class Finisher:
    """Holds every run RUNNING for `seconds`, then finishes it SUCCEEDED with `objective`'s value as its outputs."""

    def __init__(self, cp: Any, seconds: float) -> None:
        self._cp = cp
        self._seconds = seconds
        self._seen: dict[str, float] = {}
        #: When each run was finished (time.monotonic()), by name.
        self.ended: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-finisher", daemon=True)
        cp.faults.hang_runs(lambda target: True)  # RUNNING, no task process, no executor slot

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            now = time.monotonic()
            for name in self._cp.runs.names():
                run = self._cp.runs[name]
                if run.phase != "RUNNING":
                    continue
                first = self._seen.setdefault(name, now)
                if now - first >= self._seconds:
                    self._finish(run)

    def _finish(self, run: Any) -> None:
        from bench_tasks import expected
        from flyte_loopback.runs import primitive_values  # noqa: F401 - the loopback's own helpers
        from flyteidl2.core import literals_pb2
        from flyteidl2.task import common_pb2

        x = int(run.name.rsplit("-", 1)[1])  # hf-xxxxxxxx-<job>: job x has x = job number in this grid
        literal = literals_pb2.Literal(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=expected(x)))
        )
        outputs = common_pb2.Outputs(literals=[common_pb2.NamedLiteral(name="o0", value=literal)])
        path = run.root.outputs_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(outputs.SerializeToString())
        self._cp.mark_succeeded(run.name)
        self.ended[run.name] = time.monotonic()


def one_sweep(cp: Any, hydra_sweep: Any, objective: Any, expected: Any, work: Path, side: str,
              quota: int | None, rep: int, args: argparse.Namespace, finisher: Finisher) -> dict[str, Any]:  # fmt: skip
    """One sweep of `args.jobs` jobs under `quota`; its figures (seconds from the call's start)."""
    cp.reset()  # clears the record and the faults: the finisher's hang is set again below
    cp.faults.hang_runs(lambda target: True)
    cp.faults.set_run_quota(quota)
    before = set(cp.runs.names())
    sweep_dir = work / f"{side.replace(' ', '-')}-{rep}"
    start = time.monotonic()
    results = hydra_sweep(objective, config_path=str(HERE / "workload" / "conf"), config_name="bench",
                          overrides=[f"x=range(0,{args.jobs})", f"hydra.sweep.dir={sweep_dir}"],
                          summary="none")  # fmt: skip
    wall = time.monotonic() - start
    values = [float(r) for r in results]
    assert values == [expected(x) for x in range(args.jobs)], "every job's own value, in order"
    names = [n for n in cp.runs.names() if n not in before]
    assert len(names) == args.jobs, f"one run per job: {len(names)} runs for {args.jobs} jobs"
    creates = cp.requests.of("RunService/CreateRun")
    first: dict[str, float] = {}
    created: dict[str, float] = {}
    for request in creates:
        name = request.request.run_id.name
        first.setdefault(name, request.arrived_at)
        if request.created:
            created[name] = request.arrived_at
    assert sorted(created) == sorted(names)
    waits = sorted(created[n] - first[n] for n in names if created[n] > first[n])
    opened = min(first.values())  # the sweep's first CreateRun: every job was composed and ready by then
    delays = sorted(created[n] - opened for n in names)
    from hydra_flyte import load_manifest

    durations = sorted(r.duration_seconds for r in load_manifest(sweep_dir).records())
    # Hand-over: the k-th run to end frees the slot the (quota + k)-th run to be created takes.
    ends = sorted(finisher.ended[n] for n in names)
    creations = sorted(created[n] for n in names)
    handovers = sorted(
        creations[quota + k] - end for k, end in enumerate(ends) if quota and quota + k < len(names)
    )
    exhausted = sum(1 for r in creates if r.error is not None and r.error.name == "RESOURCE_EXHAUSTED")
    slots = quota or args.jobs
    floor = math.ceil(args.jobs / slots) * args.run_seconds if quota else args.run_seconds
    busy = args.jobs * args.run_seconds
    running = wall - (
        opened - start
    )  # from the first CreateRun: composing and bundling are the same either way
    return {
        "wall_s": wall,
        "compose_s": opened - start,
        "submit_s": max(created.values()) - start,
        "submit_from_first_create_s": max(created.values()) - opened,
        "after_last_submission_s": wall - (max(created.values()) - start),
        "floor_s": floor,
        "wall_over_floor": running / floor,
        "utilisation": busy / (slots * running),
        "jobs_that_waited": len(waits),
        "wait_median_s": statistics.median(waits) if waits else 0.0,
        "wait_p90_s": waits[int(0.9 * (len(waits) - 1))] if waits else 0.0,
        "wait_max_s": waits[-1] if waits else 0.0,
        "wait_total_job_s": sum(waits),
        "delay_median_s": statistics.median(delays),
        "delay_max_s": delays[-1],
        "recorded_duration_median_s": statistics.median(durations),
        "recorded_duration_max_s": durations[-1],
        "handover_median_s": statistics.median(handovers) if handovers else 0.0,
        "handover_p90_s": handovers[int(0.9 * (len(handovers) - 1))] if handovers else 0.0,
        "resource_exhausted": exhausted,
        "create_run_calls": len(creates),
        "waits": waits,
    }


def markdown(report: dict[str, Any], *, json_name: str) -> str:
    """The RESULTS.md section: the two sides' medians, the capacity waits, and what they mean."""
    jobs, quota, seconds = report["jobs"], report["quota"], report["run_seconds"]
    none, limited = report["median"]["no quota"], report["median"][f"quota {quota}"]
    load = report["load"]
    shown = [
        a for a in report["argv"] if not a.endswith((".json", ".md")) and a not in ("--json", "--markdown")
    ]
    rounds = math.ceil(jobs / quota)
    lines = [
        HEADING,
        "",
        f"Run on commit {report['commit']} by `python benchmarks/run.py --workloads quota` (or "
        f"`benchmarks/quota_bench.py {' '.join(shown)}`); raw samples: [`{json_name}`]({json_name}). Loopback "
        f"control plane in process, hosted profile (protovalidate on every request); a grid sweep of {jobs} jobs "
        f"(`x=range(0,{jobs})`, `hydra_sweep`, `wait=True`, default `submit_max_workers` 16), once with no quota "
        f"and once with `set_run_quota({quota})` (RESOURCE_EXHAUSTED past {quota} unfinished runs), alternated, "
        f"{report['reps']} repetitions, medians. Runs are simulated so that the quota, not this 2-core machine, "
        f"limits the sweep: each is held RUNNING for {seconds:g} s without a task process, then finished "
        "SUCCEEDED with the value the task would return (every value checked, one run per job). Times from "
        "the control plane's own record of the requests. Load average "
        f"{load[0][0]:.1f} before, {load[1][0]:.1f} after.",
        "",
        "| | wall s | composing s | submission s (from the first CreateRun) | floor s | (wall - composing) / floor "
        "| slots busy | recorded duration s | jobs turned away | their wait median / p90 / max s "
        "| delay per job median / max s | hand-over median / p90 s | RESOURCE_EXHAUSTED answers |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side, m in (("no quota", none), (f"quota {quota}", limited)):
        lines.append(
            f"| {side} | {m['wall_s']:.1f} | {m['compose_s']:.1f} | {m['submit_from_first_create_s']:.1f} "
            f"| {m['floor_s']:.1f} | {m['wall_over_floor']:.2f} | {m['utilisation']:.2f} "
            f"| {m['recorded_duration_median_s']:.2f} | {m['jobs_that_waited']:.0f} "
            f"| {m['wait_median_s']:.1f} / {m['wait_p90_s']:.1f} / {m['wait_max_s']:.1f} "
            f"| {m['delay_median_s']:.1f} / {m['delay_max_s']:.1f} "
            f"| {m['handover_median_s']:.2f} / {m['handover_p90_s']:.2f} | {m['resource_exhausted']:.0f} |"
        )
    lines += [
        "",
        f"- Under the quota every job succeeded, one run each; none failed for the quota. The submissions took "
        f"{limited['submit_from_first_create_s']:.1f} s instead of {none['submit_from_first_create_s']:.1f} s: "
        f"the last job waits for {rounds - 1} rounds of {quota} runs of {seconds:g} s. A job's delay (from the "
        "sweep's first CreateRun to its run's creation) is what the quota cost it; the jobs turned away "
        f"({limited['jobs_that_waited']:.0f}) waited from their first try, the others queued behind them in the "
        f"submission pool (at most `submit_max_workers` jobs wait for capacity at once).",
        f"- The quota's slots were busy {limited['utilisation']:.0%} of the time: the sweep took "
        f"{limited['wall_over_floor']:.2f}x its floor ({limited['floor_s']:.0f} s, {rounds} rounds of {seconds:g} s). "
        f"A freed slot was taken {limited['handover_median_s']:.2f} s (median) after the run holding it ended: "
        "the end of one of the sweep's own runs wakes a waiting job at once, and a job that gets in wakes the "
        "next. The rest of the gap is the submissions themselves, one after the other on the SDK's event loop "
        f"(about {none['submit_from_first_create_s'] / jobs * 1000:.0f} ms each here, as without a quota).",
        f"- The control plane answered {limited['resource_exhausted']:.0f} CreateRuns RESOURCE_EXHAUSTED for "
        f"{jobs} runs: one job probes the full quota (backoff 0.5 s doubling to 2 s), the others wait their turn, "
        "and each chain of hand-overs ends with one refused try.",
        f"- Durations are the runs' own: {limited['recorded_duration_median_s']:.2f} s recorded for runs of "
        f"{seconds:g} s, as without a quota ({none['recorded_duration_median_s']:.2f} s); the runs already in are "
        "waited on while others wait for capacity.",
        f"- Without the quota the control plane takes all {jobs} runs at once and they run together: "
        f"{none['wall_s']:.1f} s in all against {limited['wall_s']:.1f} s. The difference is what the quota "
        "allows, not what waiting costs.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
