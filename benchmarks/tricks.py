"""Each speed trick of hydra_flyte measured alone: the same sweep with every trick on, and with that one off.

    DO_NOT_TRACK=1 python -m hatch -e bench run python benchmarks/tricks.py --markdown /tmp/tricks.md
        [--pairs 5] [--only gc_freeze,libyaml,...] [--json FILE]

One process, one record-only control plane (drivers/serve.py, a separate process, so this
process's CPU time is the client's alone). Per trick: one warm-up sweep with it on and one with
it off, then `--pairs` pairs (all on, then that one off), each sweep's wall time and
`time.process_time()` taken around the `hydra_sweep` call. The report gives the medians per job
and the median of the per-pair off/on ratios. Every sweep's results are checked (local: every
value; remote: one run per job), with the trick off as with it on.

A trick is switched off from here (monkeypatching; the product has no switch for it):
a `_fallback.Private` fast path by making its lookup fail (`_find` raises AttributeError, as on
a release without the symbol, see tests-integration/test_degraded.py), the others by putting the
plain behaviour in place (see TRICKS). The kubernetes quantity parser only saves an import, so
it is measured as a fresh process's first parse, alternating the two processes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR / "drivers"))

import driver as d  # noqa: E402 - drivers/ is on the path from here

REMOTE_N = 200
LOCAL_N = 50
HEADING = "## 9. Speed tricks, each measured alone"
KEEP_CPU_RATIO = 1.03


# ---------------------------------------------------------------- the "off" switches


@contextlib.contextmanager
def private_missing(private: Any) -> Iterator[None]:
    """A `_fallback.Private` fast path as on a release without its symbol (the public path runs)."""
    from hydra_flyte.compat import fallback as _fallback

    def gone() -> Any:
        raise AttributeError(f"{private.symbol} is not there (benchmark: trick off)")

    original = private._find
    private._find = gone
    _fallback.forget_all()
    try:
        yield
    finally:
        private._find = original
        _fallback.forget_all()


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, original)


class _NoFreezeGc:
    """`gc` as `_heap` sees it, with freezing a no-op: the collector's passes walk the whole heap."""

    @staticmethod
    def freeze() -> None:
        pass

    @staticmethod
    def unfreeze() -> None:
        pass

    @staticmethod
    def get_freeze_count() -> int:
        return 0


def gc_freeze_off() -> contextlib.AbstractContextManager[None]:
    from hydra_flyte.compose import heap as _heap

    return patched(_heap, "gc", _NoFreezeGc)


def parse_memo_off() -> contextlib.AbstractContextManager[None]:
    from hydra_flyte.compat import omegaconf_private as _omegaconf_private

    return private_missing(_omegaconf_private.PARSE)


def reusing_loader_off() -> contextlib.AbstractContextManager[None]:
    """Every job composed by Hydra's own loader, at validation and again at launch (as Hydra does)."""
    from hydra_flyte.compose import configs as _compose

    class PlainLoader(_compose.ReusingConfigLoader):
        def load_sweep_config(self, master_config: Any, sweep_overrides: list[str]) -> Any:
            return self._inner.load_sweep_config(master_config, list(sweep_overrides))

        def load_job_config(self, master_config: Any, sweep_overrides: Any) -> Any:
            return self._inner.load_sweep_config(master_config, list(sweep_overrides))

    return patched(_compose, "ReusingConfigLoader", PlainLoader)


def run_job_off() -> contextlib.AbstractContextManager[None]:
    """Hydra's own `run_job` for every job (also leaves out our YAML snapshots, part of our job runner)."""
    from hydra_flyte.compat import hydra_private as _hydra_private

    return private_missing(_hydra_private.JOB_RUNNER_HYDRA_SYMBOLS)


def libyaml_off() -> contextlib.AbstractContextManager[None]:
    """Snapshots emitted by OmegaConf's pure-Python dumper (no libyaml, so no entry-text cache either)."""
    from hydra_flyte.compose import snapshots as _yaml_snapshots

    return patched(_yaml_snapshots, "_fast_dumper", lambda: None)


def entry_cache_off() -> contextlib.AbstractContextManager[None]:
    """libyaml still, but every snapshot dumped whole (no per-entry text cache)."""
    from hydra_flyte.compose import snapshots as _yaml_snapshots

    class Uncached:
        @staticmethod
        def dump(container: Any, dumper: Any) -> str:
            return _yaml_snapshots._dump(container, dumper)

    return patched(_yaml_snapshots, "_entries", Uncached)


def repeated_init_off() -> contextlib.AbstractContextManager[None]:
    from hydra_flyte.remote import repeated_init as _repeated_init

    @contextlib.contextmanager
    def not_reused() -> Iterator[None]:
        yield None

    return patched(_repeated_init, "init_from_config_reused", not_reused)


@dataclass(frozen=True)
class Trick:
    key: str
    what: str
    workload: str  # "remote", "local", "main" (the guide's @hydra.main pattern, in this process)
    off: Callable[[], contextlib.AbstractContextManager[None]] | None  # None: a sweep keyword says "off"
    off_kwargs: dict[str, Any] | None = None


TRICKS = [
    Trick("gc_freeze", "`gc.freeze` during a launch (`_heap.py`)", "remote", gc_freeze_off),
    Trick("parse_memo", "OmegaConf parse memo (`_omegaconf_private.PARSE`)", "local", parse_memo_off),
    Trick("reusing_loader", "`ReusingConfigLoader` (`_compose.py`)", "local", reusing_loader_off),
    Trick("run_job", "our own `run_job` (`_run_job.py`, `_job_runner.py`)", "local", run_job_off),
    Trick("libyaml", "libyaml snapshots (`_yaml_snapshots._fast_dumper`)", "local", libyaml_off),
    Trick("entry_cache", "snapshot entry-text cache (`_yaml_snapshots._entries`)", "local", entry_cache_off),
    Trick("submit_pool", "concurrent submission (off: `submit_max_workers=1`)", "remote", None, {"submit_max_workers": 1}),
    Trick("repeated_init", "`flyte.init_from_config` reused (`_repeated_init.py`)", "main", repeated_init_off),
]  # fmt: skip


# ---------------------------------------------------------------- the workloads


def remote_sweep(n: int, **kwargs: Any) -> list[Any]:
    from bench_tasks import objective

    from hydra_flyte import hydra_sweep

    runs = hydra_sweep(
        objective, config_path=d.CONF_DIR, config_name=d.CONFIG_NAME, overrides=d.grid(n),
        mode="remote", wait=False, **kwargs,
    )  # fmt: skip
    if len(runs) != n or len({getattr(r, "name", id(r)) for r in runs}) != n:
        raise AssertionError(f"remote sweep: {len(runs)} runs for {n} jobs")
    return runs


def local_sweep(n: int, **kwargs: Any) -> list[Any]:
    from bench_tasks import objective

    from hydra_flyte import hydra_sweep

    results = hydra_sweep(
        objective,
        config_path=d.CONF_DIR,
        config_name=d.CONFIG_NAME,
        overrides=d.grid(n),
        mode="local",
        **kwargs,
    )
    wrong = d.check_values(results, n)
    if len(results) != n or wrong:
        raise AssertionError(f"local sweep: {len(results)} results for {n} jobs, {wrong} wrong")
    return results


class MainApp:
    """workload/main_app.py's `@hydra.main` multirun, called in this process (the guide's pattern)."""

    def __init__(self, scratch: Path, info: dict[str, Any]) -> None:
        # Run from workload/ itself (flyte's root_dir is the working directory: the task's module
        # must be under it); Hydra's sweep directories go to the scratch directory.
        self.work = d.WORKLOAD
        self.sweeps = scratch / "main-multirun"
        self.calls = 0
        config = Path(os.environ["HOME"]) / ".flyte" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n"
            f"task:\n  org: {info['org']}\n  project: {info['project']}\n  domain: {info['domain']}\n"
        )
        self.info = info

    def __call__(self, n: int) -> None:
        from hydra.core.global_hydra import GlobalHydra

        sys.path.insert(0, str(self.work))
        argv, cwd = sys.argv, os.getcwd()
        os.chdir(self.work)
        sys.argv = ["main_app.py", "--multirun", "hydra/launcher=flyte", "hydra.launcher.wait=false",
                    f"x=range(0,{n})", f"hydra.sweep.dir={self.sweeps / str(self.calls)}"]  # fmt: skip
        self.calls += 1
        try:
            GlobalHydra.instance().clear()
            runpy.run_path(
                str(self.work / "main_app.py"), run_name="__main__"
            )  # Hydra finds conf/ by the file
        except SystemExit as exc:  # Hydra reports a failed run by exiting
            if exc.code:
                raise RuntimeError(f"main_app.py exited {exc.code}") from None
        finally:
            sys.argv = argv
            os.chdir(cwd)
            sys.path.remove(str(self.work))
            GlobalHydra.instance().clear()
            d.init_flyte(self.info)  # the jobs' init_from_config replaced it


def timed(call: Callable[[], Any]) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(trick: Trick, pairs: int, sweep: Callable[..., Any], n: int) -> dict[str, Any]:
    def on() -> Any:
        return sweep(n)

    def off() -> Any:
        if trick.off is None:
            return sweep(n, **(trick.off_kwargs or {}))
        with trick.off():
            return sweep(n)

    samples: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    timed(on)  # warm-up, both ways: one-off imports and caches of either path
    timed(off)
    for pair in range(pairs):
        samples["on"].append(timed(on))
        samples["off"].append(timed(off))
        log(f"  {trick.key} pair {pair + 1}/{pairs}: on {samples['on'][-1]}, off {samples['off'][-1]}")
    return summarise(trick, samples, n)


def summarise(trick: Trick, samples: dict[str, list[tuple[float, float]]], n: int) -> dict[str, Any]:
    on, off = samples["on"], samples["off"]
    return {
        "trick": trick.key,
        "what": trick.what,
        "workload": trick.workload,
        "n": n,
        "samples": samples,
        "on_ms_per_job": 1000 * statistics.median(w for w, _ in on) / n,
        "off_ms_per_job": 1000 * statistics.median(w for w, _ in off) / n,
        "on_cpu_ms_per_job": 1000 * statistics.median(c for _, c in on) / n,
        "off_cpu_ms_per_job": 1000 * statistics.median(c for _, c in off) / n,
        "wall_ratio": statistics.median(f[0] / o[0] for o, f in zip(on, off, strict=True)),
        "cpu_ratio": statistics.median(f[1] / o[1] for o, f in zip(on, off, strict=True)),
    }


# ---------------------------------------------------------------- the kubernetes quantity parser

_K8S_ON = "import flyte, hydra_flyte\nfrom hydra_flyte.compat.kubernetes_private import quantity_parser\nquantity_parser()('1Gi')"
_K8S_OFF = "import flyte, hydra_flyte\nfrom kubernetes.utils import parse_quantity\nparse_quantity('1Gi')"


def measure_kubernetes(pairs: int) -> dict[str, Any]:
    """A fresh process's first quantity parse: our file-level load vs `from kubernetes.utils import ...`."""

    def run(code: str) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    run(_K8S_ON)
    run(_K8S_OFF)
    samples: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for _ in range(pairs):
        samples["on"].append(run(_K8S_ON))
        samples["off"].append(run(_K8S_OFF))
    trick = Trick("kubernetes_parser", "kubernetes quantity parser loaded alone (`_kubernetes_private.py`)",
                  "process", None)  # fmt: skip
    return summarise(trick, samples, 1)


# ---------------------------------------------------------------- report


def log(message: str) -> None:
    print(f"[tricks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def verdict(row: dict[str, Any]) -> str:
    if row["cpu_ratio"] >= KEEP_CPU_RATIO:
        return f"keep (off costs {100 * (row['cpu_ratio'] - 1):.0f}% more CPU)"
    return "remove? (saves under 3% CPU)"


def workload_label(row: dict[str, Any]) -> str:
    n = row["n"]
    return {
        "remote": f"remote N={n}, wait=False",
        "local": f"local N={n}",
        "main": f"`@hydra.main` N={n}, wait=false, in-process",
        "process": "fresh process, first parse (ms per process)",
    }[row["workload"]]


def markdown(data: dict[str, Any]) -> str:
    lines = [
        HEADING,
        "",
        f"Command: `{data['command']}` (commit `{data['commit']}`, {data['started_at']}, "
        f"{data['duration_s']:.0f} s). {data['pairs']} pairs per trick after one warm-up each way; "
        f"load average before {data['load_before']}, after {data['load_after']}. Figures: median ms per "
        "job of the sweep call (wall, and CPU = `time.process_time()` of this process); ratios: median "
        "of the per-pair off/on ratios.",
        "",
        "| trick | workload | on ms/job (CPU) | off ms/job (CPU) | off/on wall | off/on CPU | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| {row['what']} | {workload_label(row)} | {row['on_ms_per_job']:.2f} "
            f"({row['on_cpu_ms_per_job']:.2f}) | {row['off_ms_per_job']:.2f} ({row['off_cpu_ms_per_job']:.2f}) | "
            f"{row['wall_ratio']:.3f} | {row['cpu_ratio']:.3f} | {verdict(row)} |"
        )
    for key, error in data["errors"].items():
        lines.append(f"| {key} | | | | | | not measured: {error} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", default=None, help="comma-separated trick keys (and/or kubernetes_parser)")
    parser.add_argument("--markdown", type=Path, default=None, help="write the section here")
    parser.add_argument(
        "--json", type=Path, default=None, help="raw samples (default: --markdown with .json)"
    )
    parser.add_argument("--remote-n", type=int, default=REMOTE_N)
    parser.add_argument("--local-n", type=int, default=LOCAL_N)
    args = parser.parse_args(argv)
    os.environ["DO_NOT_TRACK"] = "1"
    chosen = set(args.only.split(",")) if args.only else None
    commit = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    started = time.perf_counter()
    data: dict[str, Any] = {
        "command": "DO_NOT_TRACK=1 python -m hatch -e bench run python benchmarks/tricks.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit,
        "started_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "pairs": args.pairs,
        "load_before": tuple(round(x, 2) for x in os.getloadavg()),
        "rows": [],
        "errors": {},
    }
    scratch = Path(tempfile.mkdtemp(prefix="tricks-"))
    home, cwd = scratch / "home", scratch / "cwd"
    home.mkdir()
    cwd.mkdir()
    os.environ["HOME"] = str(home)  # flyte caches code bundles under ~/.flyte
    os.chdir(cwd)  # Hydra writes its sweep directories here
    try:
        with d.ControlPlaneProcess(record_only="queued") as cp:
            d.init_flyte(cp.info)
            main_app = MainApp(scratch, cp.info)
            sweeps = {"remote": (remote_sweep, args.remote_n), "local": (local_sweep, args.local_n),
                      "main": (main_app, args.remote_n)}  # fmt: skip
            for trick in TRICKS:
                if chosen is not None and trick.key not in chosen:
                    continue
                log(f"{trick.key}: {trick.workload}")
                sweep, n = sweeps[trick.workload]
                try:
                    data["rows"].append(measure(trick, args.pairs, sweep, n))
                except Exception as exc:  # noqa: BLE001 - one trick's failure must not lose the others
                    log(f"  {trick.key} failed: {type(exc).__name__}: {exc}")
                    data["errors"][trick.key] = f"{type(exc).__name__}: {str(exc)[:200]}"
                else:
                    log(f"  {data['rows'][-1]}")
        if chosen is None or "kubernetes_parser" in chosen:
            log("kubernetes_parser: fresh processes")
            try:
                data["rows"].append(measure_kubernetes(args.pairs))
            except Exception as exc:  # noqa: BLE001
                data["errors"]["kubernetes_parser"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        os.chdir(BENCH_DIR)
        shutil.rmtree(scratch, ignore_errors=True)
    data["load_after"] = tuple(round(x, 2) for x in os.getloadavg())
    data["duration_s"] = time.perf_counter() - started
    text = markdown(data)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)
        json_path = args.json or args.markdown.with_suffix(".json")
        json_path.write_text(json.dumps(data, indent=2, default=str))
    return 1 if data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
