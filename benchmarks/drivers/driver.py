"""One benchmark workload, run in one venv, against one implementation; figures go to a JSON file.

Usage: python driver.py WORKLOAD --impl {ours,theirs} --n N --out FIGURES.json

Workloads:
  submit   remote grid sweep, wait=False, against a record-only control plane (tasks not run)
  wait     remote grid sweep, wait=True, every task executed by the control plane
  local    local-mode grid sweep, per-job time, next to a bare flyte local run of the same task
  main     the same remote grid (wait=False, record-only) from a whole `@hydra.main` process in the
           guide's pattern (workload/main_app.py, `hydra/launcher=flyte`); for ours also the same sweep
           through the SDK as a whole process (workload/sdk_app.py), alternating with it
  compose  composition alone: Hydra's own per-job composition and each SDK's, for a value-only
           sweep and a sweep that changes group selections

`ours` is hydra_flyte (this repository); `theirs` is flyteplugins-hydra. The only code that
differs between the two is `sweep_function`. The control plane runs in a separate process
(drivers/serve.py), so the driver's CPU time and peak memory are the client's alone. Run it with
HOME and the working directory pointed at scratch directories (run.py does): the SDK caches code
bundles under ~/.flyte and Hydra writes its sweep directories under the working directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE.parent / "workload"
CONF_DIR = str(WORKLOAD / "conf")
CONFIG_NAME = "bench"
sys.path.insert(0, str(WORKLOAD))


# ---------------------------------------------------------------- the two implementations


def sweep_function(impl: str) -> Callable[..., list[Any]]:
    """`hydra_sweep` of the implementation under test (same keywords in both packages)."""
    if impl == "ours":
        from hydra_flyte import hydra_sweep
    elif impl == "theirs":
        from flyteplugins.hydra import hydra_sweep
    else:
        raise SystemExit(f"unknown implementation {impl!r}")
    return hydra_sweep


def result_value(result: Any) -> float:
    """A job's float result, whatever wrapper the implementation returns."""
    try:
        return float(result)
    except TypeError:
        pass
    outputs = result.outputs()  # a flyte Run returned for a local run
    return float(outputs[0] if isinstance(outputs, (tuple, list)) else outputs)


# An SDK with a composition step of its own (not going through a ConfigLoader) would be called
# and timed here: compose_jobs(config_dir, config_name, job_overrides) -> one config per job,
# equal to what Hydra's load_sweep_config gives. Neither has one, so this returns None and
# `compose` times the ConfigLoader calls hydra_sweep makes (LoadSweepConfigTimer).
def compose_jobs(impl: str, config_dir: str, config_name: str, job_overrides: list[list[str]]) -> Any:
    """Compose every job's config with the implementation's own composition API, or None if it has none."""
    return None


# ---------------------------------------------------------------- helpers


class ControlPlaneProcess:
    """drivers/serve.py as a subprocess of this venv's interpreter; `.info` and, after exit, `.summary`."""

    def __init__(self, record_only: str, root_slots: int = 2) -> None:
        self.record_only = record_only
        self.root_slots = root_slots
        self.info: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> ControlPlaneProcess:
        state = Path.cwd() / "control-plane"
        state.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "serve.py"),
                str(state),
                os.environ["HOME"],
                self.record_only,
                str(self.root_slots),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"control plane did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        self.summary = json.loads(line) if line.strip() else {}
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def init_flyte(info: dict[str, Any]) -> None:
    import flyte

    flyte.init(
        endpoint=info["endpoint"],
        insecure=True,
        project=info["project"],
        domain=info["domain"],
        org=info["org"],
        root_dir=WORKLOAD,
    )


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class LoadSweepConfigTimer:
    """Times per-job composition: every outermost call of a ConfigLoader's load_sweep_config.

    Patches Hydra's ConfigLoaderImpl and every other ConfigLoader subclass already imported (an
    SDK may wrap Hydra's loader in its own; run one untimed sweep first so it is imported). Nested
    calls (a wrapper falling back to Hydra's loader) are counted once. Hydra's own runtime calls
    it twice per job in a multirun: once when BasicSweeper validates the batch, once when the
    launcher composes the job. Both count: they are what a job costs. hydra_flyte's launcher
    gets its job configs through `load_job_config` (the one its loader composed for the batch's
    validation, or a new one), which counts as well.
    """

    METHODS = ("load_sweep_config", "load_job_config")

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self._depth = 0
        self._patched: list[tuple[type, str, Any]] = []

    def __enter__(self) -> LoadSweepConfigTimer:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra.core.config_loader import ConfigLoader

        classes, todo = {ConfigLoaderImpl}, list(ConfigLoader.__subclasses__())
        while todo:
            cls = todo.pop()
            classes.add(cls)
            todo.extend(cls.__subclasses__())
        for cls in classes:
            for name in self.METHODS:
                if name in vars(cls) and not getattr(vars(cls)[name], "__isabstractmethod__", False):
                    self._patch(cls, name)
        return self

    def _patch(self, cls: type, name: str) -> None:
        original = vars(cls)[name]
        timer = self

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            timer._depth += 1
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                timer._depth -= 1
                if timer._depth == 0:
                    timer.seconds += time.perf_counter() - start
                    timer.calls += 1

        self._patched.append((cls, name, original))
        setattr(cls, name, timed)

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in self._patched:
            setattr(cls, name, original)


def hydra_composition(job_overrides: Sequence[Sequence[str]]) -> float:
    """Hydra's own per-job composition: load_sweep_config on a master config, seconds for all jobs."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="objective"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(CONFIG_NAME, overrides=[], run_mode=RunMode.MULTIRUN)
        start = time.perf_counter()
        for overrides in job_overrides:
            loader.load_sweep_config(master, list(overrides))
        return time.perf_counter() - start


def grid(n: int) -> list[str]:
    return [f"x=range(0,{n})"]


def check_values(results: list[Any], n: int) -> int:
    """Number of jobs whose result differs from the expected objective value."""
    from bench_tasks import expected

    return sum(abs(result_value(r) - expected(i)) > 1e-9 for i, r in enumerate(results))


# ---------------------------------------------------------------- workloads


def run_submit(impl: str, n: int) -> dict[str, Any]:
    with ControlPlaneProcess(record_only="queued") as cp:
        init_flyte(cp.info)
        hydra_sweep = sweep_function(impl)
        from bench_tasks import objective

        start = time.perf_counter()
        runs = hydra_sweep(
            objective,
            config_path=CONF_DIR,
            config_name=CONFIG_NAME,
            overrides=grid(n),
            mode="remote",
            wait=False,
        )
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "per_job_ms": 1000 * seconds / n,
        "jobs": len(runs),
        "created_runs": cp.summary.get("created_runs"),
        "control_plane_cpu_seconds": cp.summary.get("cpu_seconds"),
        "cpu_seconds": time.process_time(),
        "peak_rss_mb": peak_rss_mb(),
        "ok": len(runs) == n and cp.summary.get("created_runs") == n,
    }


def run_wait(impl: str, n: int) -> dict[str, Any]:
    with ControlPlaneProcess(record_only="off") as cp:
        init_flyte(cp.info)
        hydra_sweep = sweep_function(impl)
        from bench_tasks import objective

        start = time.perf_counter()
        results = hydra_sweep(
            objective,
            config_path=CONF_DIR,
            config_name=CONFIG_NAME,
            overrides=grid(n),
            mode="remote",
            wait=True,
        )
        seconds = time.perf_counter() - start
        wrong = check_values(results, n)
    return {
        "seconds": seconds,
        "per_job_ms": 1000 * seconds / n,
        "jobs": len(results),
        "wrong_values": wrong,
        "phases": cp.summary.get("phases"),
        "ok": len(results) == n and wrong == 0,
    }


def bare_local_runs(n: int) -> float:
    """Seconds for n bare `flyte.with_runcontext(mode="local").run(objective, cfg)` calls, configs precomposed."""
    import flyte
    from bench_tasks import objective
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        configs = [compose(CONFIG_NAME, overrides=[f"x={i}"]) for i in range(n)]
    GlobalHydra.instance().clear()
    start = time.perf_counter()
    for cfg in configs:
        flyte.with_runcontext(mode="local").run(objective, cfg=cfg)
    return time.perf_counter() - start


def run_local(impl: str, n: int) -> dict[str, Any]:
    hydra_sweep = sweep_function(impl)
    from bench_tasks import objective

    # One untimed job first: both implementations pay one-off imports (flyte's local runner) on it.
    hydra_sweep(objective, config_path=CONF_DIR, config_name=CONFIG_NAME, overrides=["x=0"], mode="local")
    with LoadSweepConfigTimer() as timer:
        start = time.perf_counter()
        results = hydra_sweep(
            objective, config_path=CONF_DIR, config_name=CONFIG_NAME, overrides=grid(n), mode="local"
        )
        seconds = time.perf_counter() - start
    wrong = check_values(results, n)
    bare = bare_local_runs(n)
    return {
        "seconds": seconds,
        "per_job_ms": 1000 * seconds / n,
        "bare_flyte_per_job_ms": 1000 * bare / n,
        "overhead_per_job_ms": 1000 * (seconds - bare) / n,
        "compose_per_job_ms": 1000 * timer.seconds / n if timer.calls >= n else None,
        "composition_calls_per_job": timer.calls / n,
        "jobs": len(results),
        "wrong_values": wrong,
        "ok": len(results) == n and wrong == 0,
    }


def run_compose(impl: str, n: int) -> dict[str, Any]:
    """Per-job composition for a value-only sweep (x) and one that also changes the model group."""
    half = max(1, n // 2)
    sweeps = {
        "value": (grid(n), [[f"x={i}"] for i in range(n)]),
        "group": (
            ["model=small,large", f"x=range(0,{half})"],
            [[f"model={m}", f"x={i}"] for m in ("small", "large") for i in range(half)],
        ),
    }
    hydra_sweep = sweep_function(impl)
    from bench_tasks import objective

    hydra_sweep(objective, config_path=CONF_DIR, config_name=CONFIG_NAME, overrides=["x=0"], mode="local")
    figures: dict[str, Any] = {"ok": True}
    for kind, (sweep_overrides, job_overrides) in sweeps.items():
        jobs = len(job_overrides)
        figures[f"hydra_{kind}_ms"] = 1000 * hydra_composition(job_overrides) / jobs
        start = time.perf_counter()
        direct = compose_jobs(impl, CONF_DIR, CONFIG_NAME, job_overrides)
        if direct is not None:
            figures[f"{kind}_ms"] = 1000 * (time.perf_counter() - start) / jobs
            figures[f"{kind}_method"] = "compose_jobs"
            continue
        with LoadSweepConfigTimer() as timer:
            hydra_sweep(
                objective,
                config_path=CONF_DIR,
                config_name=CONFIG_NAME,
                overrides=sweep_overrides,
                mode="local",
            )
        figures[f"{kind}_calls_per_job"] = timer.calls / jobs
        if timer.calls >= jobs:
            figures[f"{kind}_ms"] = 1000 * timer.seconds / jobs
            figures[f"{kind}_method"] = "load_sweep_config inside hydra_sweep"
        else:  # the SDK composes some other way: fill compose_jobs() above to measure it
            figures[f"{kind}_ms"] = None
            figures[f"{kind}_method"] = (
                f"not measurable: load_sweep_config called {timer.calls} times for {jobs} jobs"
            )
            figures["ok"] = False
    return figures


def _timed_process(argv: list[str], cwd: Path, n: int, cp: ControlPlaneProcess) -> float:
    """Wall seconds of one whole process that submits n runs; it must exit 0 and n more runs must be recorded."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[1]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return seconds


def run_main(impl: str, n: int) -> dict[str, Any]:
    """`python main_app.py --multirun hydra/launcher=flyte hydra.launcher.wait=false x=range(0,n)`, whole process.

    The apps run in a copy of workload/ (the code bundle's root is the working directory), with the
    default Flyte config (~/.flyte/config.yaml under this HOME) pointing at the control plane. For
    ours, the SDK's process (sdk_app.py) runs right after, against the same control plane.
    """
    import shutil

    work = Path.cwd() / "app"
    shutil.copytree(WORKLOAD, work, ignore=shutil.ignore_patterns("__pycache__"))
    figures: dict[str, Any] = {}
    with ControlPlaneProcess(record_only="queued") as cp:
        config = Path(os.environ["HOME"]) / ".flyte" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        info = cp.info
        config.write_text(
            f"admin:\n  endpoint: {info['endpoint']}\n  insecure: true\n"
            f"task:\n  org: {info['org']}\n  project: {info['project']}\n  domain: {info['domain']}\n"
        )
        app = [sys.executable, "main_app.py", "--multirun", "hydra/launcher=flyte", "hydra.launcher.wait=false",
               f"x=range(0,{n})"]  # fmt: skip
        figures["main_seconds"] = _timed_process(app, work, n, cp)
        if impl == "ours":
            figures["sdk_seconds"] = _timed_process([sys.executable, "sdk_app.py", str(n)], work, n, cp)
    expected_runs = n * (2 if impl == "ours" else 1)
    figures.update(
        seconds=figures["main_seconds"],
        per_job_ms=1000 * figures["main_seconds"] / n,
        created_runs=cp.summary.get("created_runs"),
        ok=cp.summary.get("created_runs") == expected_runs,
    )
    if impl == "ours":
        figures["main_over_sdk"] = figures["main_seconds"] / figures["sdk_seconds"]
    return figures


WORKLOADS = {
    "main": run_main,
    "submit": run_submit,
    "wait": run_wait,
    "local": run_local,
    "compose": run_compose,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--impl", choices=("ours", "theirs"), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    figures = WORKLOADS[args.workload](args.impl, args.n)
    figures.update(workload=args.workload, impl=args.impl, n=args.n)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
