"""A 2,000-job dry run through each entry point, side by side: `@hydra.main`, `flyte hydra run`, the SDK.

    DO_NOT_TRACK=1 python -m hatch -e bench run python benchmarks/dry_run_bench.py [--jobs 2000] [--reps 3]

Each repetition runs the three whole processes one after another (alternating their order), in a copy
of `workload/` with a fresh HOME and no Flyte config (a dry run needs no endpoint), and times their wall
and CPU seconds (the child's `ru_utime + ru_stime`). Every process must exit 0 and print one plan line
per job on stdout. Prints a Markdown table of the medians and writes the samples to
`benchmarks/DRY_RUN.json` (or `--json FILE`). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload"

SDK_APP = """
import sys
from bench_tasks import objective
from hydra_flyte import hydra_sweep

hydra_sweep(objective, config_path="conf", config_name="bench", overrides=[f"x=range(0,{sys.argv[1]})"],
            dry_run=True)
"""


def commands(n: int) -> dict[str, list[str]]:
    """The three entry points' dry runs of the same n-job grid."""
    grid = f"x=range(0,{n})"
    flyte = str(Path(sys.executable).with_name("flyte"))
    return {
        "@hydra.main": [sys.executable, "main_app.py", "--multirun", "hydra/launcher=flyte",
                        "hydra.launcher.dry_run=true", grid, "hydra.sweep.dir=sweep-main"],
        "flyte hydra run": [flyte, "hydra", "run", "--multirun", "--dry-run", "--config-path", "conf",
                            "--config-name", "bench", "--hydra-override", "hydra.sweep.dir=sweep-cli",
                            "bench_tasks.py", "objective", "--cfg", grid],
        "SDK hydra_sweep": [sys.executable, "sdk_dry_app.py", str(n)],
    }  # fmt: skip


def timed(argv: list[str], cwd: Path, env: dict[str, str], n: int) -> tuple[float, float]:
    """Wall and CPU seconds of one process, which must exit 0 and print n plan lines."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    plans = [line for line in proc.stdout.splitlines() if line.startswith("job ")]
    if len(plans) != n:
        raise RuntimeError(f"{argv[:3]} printed {len(plans)} plan lines, not {n}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=HERE / "DRY_RUN.json")
    args = parser.parse_args(argv)
    samples: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="hydra-flyte-dry-") as tmp:
        work = Path(tmp) / "app"
        shutil.copytree(WORKLOAD, work, ignore=shutil.ignore_patterns("__pycache__"))
        (work / "sdk_dry_app.py").write_text(SDK_APP)
        home = Path(tmp) / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "UCTL", "_U_"))}
        env.update(HOME=str(home), DO_NOT_TRACK="1")
        entries = commands(args.jobs)
        names = list(entries)
        for rep in range(args.reps):
            order = names if rep % 2 == 0 else names[::-1]
            for name in order:
                wall, cpu = timed(entries[name], work, env, args.jobs)
                samples.setdefault(name, []).append((wall, cpu))
                print(f"rep {rep}: {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
    print(
        f"| entry point ({args.jobs}-job dry run) | wall s (median) | CPU s (median) | wall s, each repetition |"
    )
    print("|---|---|---|---|")
    for name in names:
        walls = [w for w, _ in samples[name]]
        cpus = [c for _, c in samples[name]]
        each = ", ".join(f"{w:.1f}" for w in walls)
        print(f"| {name} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} | {each} |")
    load = os.getloadavg()
    args.json.write_text(
        json.dumps(
            {"jobs": args.jobs, "reps": args.reps, "load_average": load, "cores": os.cpu_count(),
             "samples": {k: [{"wall": w, "cpu": c} for w, c in v] for k, v in samples.items()}},
            indent=1,
        ) + "\n"
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
