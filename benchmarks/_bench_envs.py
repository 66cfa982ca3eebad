"""The Python environments the benchmark compares, built on demand under benchmarks/.venvs/.

- ours:    the interpreter running run.py (hydra_flyte, its launcher and CLI installed).
- theirs:  a venv with flyteplugins-hydra==2.12.1; its `flyte hydra` entry point and its
           `hydra/launcher=flyte` option have the same names as ours, so it never shares a venv.
- bare:    a venv with only what our packages need (flyte, hydra-core, omegaconf,
           flyteplugins-omegaconf, at the versions of ours), and none of our packages: the
           "without" side of `flyte --help` and of a `@hydra.main` app's start. The "with" side is
           the same interpreter with PYTHONPATH pointing at a --target install of our current sources.

A venv is reused when its marker file lists the same requirements; otherwise it is rebuilt.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENVS = BENCH_DIR / ".venvs"
WORK = BENCH_DIR / ".work"

THEIRS_REQUIREMENTS = [
    "flyteplugins-hydra==2.12.1",
    "hydra-core==1.3.8",
    "hydra-optuna-sweeper",
    "scikit-learn",
    "uvicorn",
]
# Our packages, installed into a --target directory for the "with" side of the start-up figures.
OUR_PACKAGES = ["hydra-flyte-core", "hydra-flyte-launcher", "flyte-hydra-cli"]
_BARE_DISTRIBUTIONS = ["flyte", "hydra-core", "omegaconf", "flyteplugins-omegaconf", "click"]


@dataclass(frozen=True)
class Env:
    name: str
    python: Path

    @property
    def bin_dir(self) -> Path:
        return self.python.parent

    def version(self, distribution: str) -> str | None:
        """Installed version of `distribution` in this environment (None if absent)."""
        out = subprocess.run(
            [
                str(self.python),
                "-c",
                "import importlib.metadata as m, sys\n"
                "try: print(m.version(sys.argv[1]))\n"
                "except m.PackageNotFoundError: print('')",
                distribution,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out or None


def ours() -> Env:
    return Env("ours", Path(sys.executable))


def bare_requirements() -> list[str]:
    """Our packages' runtime dependencies, pinned to the versions installed alongside ours."""
    return [f"{d}=={importlib.metadata.version(d)}" for d in _BARE_DISTRIBUTIONS]


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _pip(python: Path | str, args: list[str], log_name: str) -> None:
    """`python -m pip ...`, its output in .work/logs/<log_name>.log (shown in the error if it fails)."""
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{log_name}.log"
    with log_path.open("w") as log:
        proc = subprocess.run(
            [str(python), "-m", "pip", *args, "--disable-pip-version-check"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-15:])
        raise RuntimeError(f"pip {' '.join(args)} failed (exit {proc.returncode}), log {log_path}:\n{tail}")


def ensure_venv(name: str, requirements: list[str]) -> Env:
    """A venv under .venvs/<name> with `requirements` installed; reused if built with the same list."""
    path = VENVS / name
    python = path / "bin" / "python"
    marker = path / "bench-requirements.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == requirements:
        return Env(name, python)
    _log(f"building venv {path} ({' '.join(requirements)})")
    shutil.rmtree(path, ignore_errors=True)
    VENVS.mkdir(parents=True, exist_ok=True)
    # Create it from the base interpreter, not from this venv (a venv's venv keeps nothing of it).
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True)
    _pip(python, ["install", *requirements], f"pip-{name}")
    marker.write_text(json.dumps(requirements))
    return Env(name, python)


def compile_bytecode(env: Env, *extra: Path) -> None:
    """Byte-compile the environment's site-packages (and `extra` source trees) once, up front.

    The drivers run with PYTHONDONTWRITEBYTECODE=1 (no stray .pyc in the repository), so an
    environment installed without compiling (uv, hatch's installer, does not) would recompile
    every module in every process: every `a0` task process the control plane starts included.
    pip compiles at install, so theirs is compiled already; this puts both sides on the same
    footing. Files that do not compile (Python 2 leftovers some packages ship) are skipped.
    """
    paths = subprocess.run(
        [
            str(env.python),
            "-c",
            "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    dirs = sorted({*paths, *(str(d) for d in extra)})
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"compileall-{env.name}.log").open("w") as log:
        subprocess.run(
            [str(env.python), "-m", "compileall", "-q", "-j", "0", *dirs],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def our_source_trees() -> list[Path]:
    """What the drivers import from this repository: our packages, the control plane, the workload."""
    return [
        *(REPO / "packages" / p / "src" for p in OUR_PACKAGES),
        REPO / "tests-integration",
        BENCH_DIR / "workload",
    ]


def theirs() -> Env:
    return ensure_venv("theirs", THEIRS_REQUIREMENTS)


def bare() -> Env:
    return ensure_venv("flyte-bare", bare_requirements())


def our_site_dir() -> Path:
    """Our three packages, built from the current sources into a fresh --target directory.

    Importable by any interpreter with the same dependencies through PYTHONPATH; their
    dist-info (entry points included) is found there too, as `flyte` looks up plugins by entry point.
    """
    target = WORK / "ours-site"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    _pip(
        sys.executable,
        [
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            *(str(REPO / "packages" / p) for p in OUR_PACKAGES),
        ],
        "pip-ours-site",
    )
    return target
