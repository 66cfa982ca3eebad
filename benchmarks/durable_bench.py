"""Benchmark: the same 40-job grid sweep attached and detached (`flyte hydra run --multirun --detach`), side by side.

An attached sweep submits one run per job and waits on them from this machine; a detached sweep
submits one driver run whose task runs each job as a child action (hydra_flyte/durable). This
measures what the driver costs: the same grid (`x=range(0,N)` of workload/bench_tasks.objective,
through the `flyte hydra run` console script, as a user runs it) against a loopback control plane
started in this process that executes every action for real (an `a0` subprocess each), with C
slots for root runs and C for child actions, and `--max-concurrency C` for the detached sweep, so
that both run C jobs at once. Per repetition, in turn:

- attached: `flyte hydra run --multirun` (waits), wall time of the command;
- detached, waited: the same with `--detach --wait`, wall time of the command;
- detached, returning: `--detach` alone, the time until the command returns; then the driver run is
  waited for on the control plane and `flyte hydra status SWEEP` (reattaching) is timed once it ended.

Every sweep's 40 values are checked against the task's. From the control plane's own record
(each action's created / started / ended): the sweep's span there (attached: first run created to
last run ended; detached: the driver run's), the driver action's own process time (started to
ended), its start-up (started to its first child's creation) and tail (last child's end to its own
end), each job's action time (started to ended, root runs vs child actions), and the hand-over
inside the driver (the k-th child to end frees the slot of the (C + k)-th child created). The driver's
overhead per child action: (detached wall - attached wall) / N.

    DO_NOT_TRACK=1 python benchmarks/durable_bench.py [--jobs 40 --concurrency 4 --reps 2]
        [--json benchmarks/DURABLE.json] [--markdown SECTION.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _bench_provenance import commit, versions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLYTE = Path(sys.executable).with_name("flyte")
#: RESULTS.md's heading of this benchmark's section (run.py keeps it as it was).
HEADING = "## 11. Detached vs attached, a 40-job sweep (`benchmarks/durable_bench.py`)"
SIDES = ("attached", "detached --wait", "detached, returning")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="root slots = child slots = --max-concurrency"
    )
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--json", default=str(HERE / "DURABLE.json"))
    parser.add_argument("--markdown", default=None, help="write the RESULTS.md section here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="hf-durable-bench-"))
    os.environ["HOME"] = str(work / "home")
    os.environ["DO_NOT_TRACK"] = "1"
    (work / "home").mkdir()
    project = work / "project"
    shutil.copytree(HERE / "workload", project, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path[:0] = [str(REPO / "tests-integration"), str(HERE / "workload")]
    from bench_tasks import expected
    from flyte_loopback import ControlPlane

    cp = ControlPlane(
        work / "cp", home=work / "home", root_slots=args.concurrency, child_slots=args.concurrency
    ).start()
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    want = [expected(x) for x in range(args.jobs)]
    try:
        for rep in range(args.reps):
            for side in SIDES:
                sample = one_sweep(cp, project, side, rep, args, want)
                samples[side].append(sample)
                print(
                    f"{side} rep {rep}: {json.dumps({k: round(v, 3) for k, v in sample.items()})}", flush=True
                )
    finally:
        cp.close()
        shutil.rmtree(work, ignore_errors=True)
    medians = {
        side: {k: statistics.median(s[k] for s in runs) for k in runs[0]} for side, runs in samples.items()
    }
    attached, waited = medians["attached"]["wall_s"], medians["detached --wait"]["wall_s"]
    pairs = zip(samples["attached"], samples["detached --wait"], strict=True)
    derived = {
        "overhead_per_child_ms": (waited - attached) / args.jobs * 1000,
        # The same from each repetition's pair (sides run one after the other: load drifts hit both alike).
        "overhead_per_child_paired_ms": statistics.median(
            (d["wall_s"] - a["wall_s"]) / args.jobs * 1000 for a, d in pairs
        ),
        # The driver alone, nobody waiting: the driver run's span against the attached runs' span.
        "span_overhead_per_child_ms": (
            medians["detached, returning"]["span_s"] - medians["attached"]["span_s"]
        )
        / args.jobs
        * 1000,
        "detached_over_attached": waited / attached,
        "return_over_attached": medians["detached, returning"]["return_s"] / attached,
    }
    report = {"jobs": args.jobs, "concurrency": args.concurrency, "reps": args.reps, "samples": samples,
              "median": medians, "derived": derived, "commit": commit(REPO), "load": [load_before, os.getloadavg()],
              "machine": {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine()},
              "versions": versions("flyte", "hydra-core"), "argv": _shown_argv(sys.argv[1:])}  # fmt: skip
    Path(args.json).write_text(json.dumps(report, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(markdown(report, json_name=Path(args.json).name))
    print(json.dumps({"median": medians, "derived": derived}, indent=2))
    return 0


def flyte(cp: Any, project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`flyte ARGS` in the project against the control plane; the process and its wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([str(FLYTE), *args], cwd=project, env={**cp.env(), "COLUMNS": "400"},
                          capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"flyte {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc, wall


def values_of(proc: subprocess.CompletedProcess[str]) -> list[float]:
    return [float(j["value"]) for j in json.loads(proc.stdout)["jobs"]]


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def one_sweep(
    cp: Any, project: Path, side: str, rep: int, args: argparse.Namespace, want: list[float]
) -> dict:
    """One sweep of `args.jobs` jobs on `side`; its figures in seconds."""
    cp.reset()
    sweep_dir = f"{side.split(',')[0].replace(' ', '').replace('--', '-')}-{rep}"
    argv = ["-of", "json", "hydra", "run", "--multirun", "--config-path", "conf", "--config-name", "bench",
            "--hydra-override", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    if side != "attached":
        argv += ["--detach", "--max-concurrency", str(args.concurrency)]
    if side == "detached --wait":
        argv += ["--wait"]
    argv += ["bench_tasks.py", "objective", "--cfg", f"x=range(0,{args.jobs})"]
    proc, wall = flyte(cp, project, *argv)
    created = [r.name for r in cp.requests.created_runs()]
    if side == "attached":
        assert values_of(proc) == want, "every job's own value, in order"
        assert len(created) == args.jobs, f"one run per job: {len(created)}"
        roots = [cp.run(name).root for name in created]
        return {
            "wall_s": wall,
            "span_s": seconds(max(a.ended_at for a in roots), min(a.created_at for a in roots)),
            "action_median_s": statistics.median(seconds(a.ended_at, a.started_at) for a in roots),
        }
    (driver,) = created
    figures: dict[str, float] = {}
    if side == "detached --wait":
        assert values_of(proc) == want, "every job's own value, in order"
        figures["wall_s"] = wall
    else:
        figures["return_s"] = wall
        running = cp.run(driver).root
        assert not running.done, f"the sweep had ended before the command returned ({wall:.1f} s)"
        cp.wait_for_phase(driver, ["SUCCEEDED"], timeout=1800)
        status, status_wall = flyte(cp, project, "-of", "json", "hydra", "status", sweep_dir)
        assert values_of(status) == want, "status gives every job's value once the driver ended"
        figures["status_after_end_s"] = status_wall
    run = cp.run(driver)
    root = run.root
    assert root.phase_name == "SUCCEEDED", root.phase_name
    kids = run.children("a0")
    assert len(kids) == args.jobs and all(a.phase_name == "SUCCEEDED" for a in kids)
    creations = sorted(a.created_at for a in kids)
    ends = sorted(a.ended_at for a in kids)
    c = args.concurrency
    handovers = [seconds(creations[c + k], end) for k, end in enumerate(ends) if c + k < len(creations)]
    figures.update(
        span_s=seconds(root.ended_at, root.created_at),
        driver_process_s=seconds(root.ended_at, root.started_at),
        driver_queued_s=seconds(root.started_at, root.created_at),
        driver_startup_s=seconds(creations[0], root.started_at),
        driver_tail_s=seconds(root.ended_at, ends[-1]),
        action_median_s=statistics.median(seconds(a.ended_at, a.started_at) for a in kids),
        handover_median_s=statistics.median(handovers) if handovers else 0.0,
    )
    return figures


def _shown_argv(argv: list[str]) -> list[str]:
    """The arguments as recorded: the files written named by their base name only (no machine paths)."""
    return [Path(a).name if a.endswith((".json", ".md")) else a for a in argv]


def markdown(report: dict[str, Any], *, json_name: str) -> str:
    """The RESULTS.md section: the three sides' medians and the driver's overhead."""
    jobs, c = report["jobs"], report["concurrency"]
    att, wait, ret = (report["median"][side] for side in SIDES)
    derived, load = report["derived"], report["load"]
    shown = [
        a for a in report["argv"] if not a.endswith((".json", ".md")) and a not in ("--json", "--markdown")
    ]
    cores = report["machine"]["cores"]
    lines = [
        HEADING,
        "",
        f"Run on commit {report['commit']} by `{' '.join(['python benchmarks/durable_bench.py', *shown])}`"
        f" on {cores} cores; raw samples: [`{json_name}`]({json_name}). A loopback control plane in process "
        f"executes every action for real (an `a0` subprocess each) with {c} root slots and {c} child slots; the "
        f"same grid of {jobs} jobs (`x=range(0,{jobs})` of `workload/bench_tasks.objective`) through the `flyte "
        f"hydra run --multirun` console script, attached, detached with `--wait` and detached alone "
        f"(`--max-concurrency {c}`, so {c} jobs run at once either way), in turn, {report['reps']} repetition(s), "
        f"medians; every value checked. Load average {load[0][0]:.1f} before, {load[1][0]:.1f} after.",
        "",
        "| | command s | span on the control plane s | action per job s (started to ended) |",
        "|---|---|---|---|",
        f"| attached | {att['wall_s']:.1f} | {att['span_s']:.1f} (first run created to last ended) "
        f"| {att['action_median_s']:.2f} |",
        f"| detached `--wait` | {wait['wall_s']:.1f} | {wait['span_s']:.1f} (the driver run) "
        f"| {wait['action_median_s']:.2f} |",
        f"| detached, returning | **{ret['return_s']:.1f}** (until it returns) | {ret['span_s']:.1f} (the driver run) "
        f"| {ret['action_median_s']:.2f} |",
        "",
        "| the driver (detached `--wait`) | s |",
        "|---|---|",
        f"| its process, started to ended | {wait['driver_process_s']:.1f} |",
        f"| start-up: started to its first child's creation | {wait['driver_startup_s']:.2f} |",
        f"| tail: its last child's end to its own end | {wait['driver_tail_s']:.2f} |",
        f"| hand-over: a child's end to the next child's creation (median) | {wait['handover_median_s']:.2f} |",
        f"| overhead per child action: (detached wall - attached wall) / {jobs} | "
        f"{derived['overhead_per_child_ms'] / 1000:.3f} ({derived['overhead_per_child_ms']:.0f} ms) |",
        f"| the same, median of the repetitions' pairs | "
        f"{derived['overhead_per_child_paired_ms'] / 1000:.3f} ({derived['overhead_per_child_paired_ms']:.0f} ms) |",
        f"| the driver run's span with nobody waiting (detached, returning) minus the attached span, / {jobs} | "
        f"{derived['span_overhead_per_child_ms'] / 1000:.3f} ({derived['span_overhead_per_child_ms']:.0f} ms) |",
        "",
        f"- Detached and waited on, the sweep took {derived['detached_over_attached']:.2f}x the attached one's "
        f"wall time ({wait['wall_s']:.1f} s against {att['wall_s']:.1f} s): "
        f"{derived['overhead_per_child_ms']:.0f} ms per job. The driver is one more process beside the jobs' "
        f"(its own start-up, {wait['driver_startup_s']:.1f} s to its first child, is paid once), and each "
        f"child is created from the driver's event loop {wait['handover_median_s']:.2f} s (median) after the "
        "one whose slot it takes ended. With nobody waiting (the detached command gone), the driver run took "
        f"{ret['span_s']:.1f} s on the control plane against {att['span_s']:.1f} s for the attached runs, "
        f"{derived['span_overhead_per_child_ms']:.0f} ms per job: the rest of the waited figure is most likely "
        "the waiting command itself (its polls, below) competing with the jobs for the cores.",
        f"- The detached command returns in {ret['return_s']:.1f} s, "
        f"{derived['return_over_attached']:.0%} of the attached sweep's wall time: composing, checking and one "
        f"CreateRun; the sweep goes on without it. `flyte hydra status` after the driver ended (reattaching: one "
        f"GetRun, one ListActions, the driver's output) took {ret['status_after_end_s']:.1f} s, process start-up "
        "included.",
        f"- A job's action, started to ended: {wait['action_median_s']:.2f} s as a child of the driver, "
        f"{att['action_median_s']:.2f} s as a root run of its own (mostly the `a0` process's start-up on this "
        "machine). The waiting detached command reads the driver's children once a second "
        "(`durable/status.POLL_SECONDS`), so it sees the driver's end up to a second late.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
