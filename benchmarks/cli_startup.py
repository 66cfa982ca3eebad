"""How much `flyte --help` slows down when flyte-hydra-cli is installed.

`flyte --help` loads every registered CLI plugin (it needs each command's summary), so a plugin
that imports Hydra or hydra_flyte at module level would tax every user of the Flyte CLI.

Each sample is a fresh interpreter running `flyte --help`, in one of two arms that alternate:

* with:    flyte as installed, flyte-hydra-cli's `hydra` command included;
* without: the same interpreter and driver, with flyte-hydra-cli's entry points hidden from
           flyte's plugin discovery, which is what flyte sees when the package is not installed.

Hiding the entry points rather than uninstalling keeps the shared environment untouched and
makes the two arms differ only in the plugin. To compare against a really separate environment
instead, pass `--without-python /path/to/other/venv/bin/python` (a venv without the package).

    DO_NOT_TRACK=1 python benchmarks/cli_startup.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

DISTRIBUTION = "flyte-hydra-cli"

# Runs `flyte --help`; argv[1] == "without" hides the package's entry points first.
# Afterwards prints which heavy modules the run imported, for the report.
DRIVER = f"""
import sys
if sys.argv[1] == "without":
    import importlib.metadata as md
    import flyte._utils.entry_points as eps
    found = eps._installed_entry_points()
    # Python 3.10/3.11 give a dict of groups, 3.12+ a flat EntryPoints.
    flat = [ep for group in found.values() for ep in group] if isinstance(found, dict) else list(found)
    kept = md.EntryPoints(ep for ep in flat if getattr(ep.dist, "name", None) != {DISTRIBUTION!r})
    eps._installed_entry_points = lambda: kept
from flyte.cli.main import main
sys.argv = ["flyte", "--help"]
try:
    main()
except SystemExit:
    pass
heavy = [m for m in ("hydra", "hydra_flyte", "omegaconf", "flyte_hydra_cli", "flyte_hydra_cli._run") if m in sys.modules]
sys.stderr.write("IMPORTED:" + ",".join(heavy) + "\\n")
"""


def sample(python: str, arm: str) -> tuple[float, str, bool]:
    """One fresh `flyte --help`: seconds, the heavy modules it imported, whether `hydra` was listed."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "COLUMNS": "200"}
    start = time.perf_counter()
    out = subprocess.run([python, "-c", DRIVER, arm], capture_output=True, text=True, env=env, check=True)
    elapsed = time.perf_counter() - start
    imported = next((line[9:] for line in out.stderr.splitlines() if line.startswith("IMPORTED:")), "")
    listed = any(line.split()[1:2] == ["hydra"] for line in out.stdout.splitlines() if len(line.split()) > 1)
    return elapsed, imported, listed


def entry_module_import_us(python: str, runs: int = 7) -> float:
    """Median cumulative import time of the entry-point module (`python -X importtime`), microseconds.

    Wall-clock medians of whole `flyte --help` runs move by a few percent from run to run on a
    busy machine; this is the part of the difference the plugin itself is responsible for.
    """
    code = "import rich_click, flyte.cli.main; import flyte_hydra_cli"
    found = []
    for _ in range(runs):
        out = subprocess.run(
            [python, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
        )
        for line in out.stderr.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "flyte_hydra_cli":
                found.append(float(parts[1]))
    return statistics.median(found)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="samples per arm (default 15)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the package installed")
    parser.add_argument("--without-python", default=None, help="interpreter of an environment without it")
    args = parser.parse_args()

    arms = {
        "with": (args.python, "with"),
        "without": (args.without_python, "with") if args.without_python else (args.python, "without"),
    }
    for python, arm in arms.values():  # warm the OS file cache and .pyc files
        sample(python, arm)

    times: dict[str, list[float]] = {name: [] for name in arms}
    seen: dict[str, tuple[str, bool]] = {}
    for _ in range(args.runs):
        for name, (python, arm) in arms.items():
            elapsed, imported, listed = sample(python, arm)
            times[name].append(elapsed)
            seen[name] = (imported, listed)

    print(f"`flyte --help`, {args.runs} fresh interpreters per arm (alternating)")
    for name in arms:
        data = times[name]
        imported, listed = seen[name]
        print(
            f"  {name:8s} median {statistics.median(data) * 1000:7.1f} ms  min {min(data) * 1000:7.1f} ms  "
            f"(`hydra` listed: {'yes' if listed else 'no'}; imported: {imported or 'none of hydra/hydra_flyte/omegaconf'})"
        )
    ratio = statistics.median(times["with"]) / statistics.median(times["without"])
    print(f"  ratio with/without (medians): {ratio:.3f}")
    print(
        f"  importing the entry-point module flyte_hydra_cli: {entry_module_import_us(args.python) / 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
