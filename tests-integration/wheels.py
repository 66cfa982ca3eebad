"""Build the workspace's wheels and install them into clean virtual environments (with uv)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "core": ROOT / "packages" / "hydra-flyte-core",
    "launcher": ROOT / "packages" / "hydra-flyte-launcher",
    "cli": ROOT / "packages" / "flyte-hydra-cli",
}


def _uv() -> list[str]:
    """How to call uv: the executable next to this interpreter, on PATH, or as a module."""
    beside = Path(sys.executable).with_name("uv")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def build_wheels(dest: Path) -> dict[str, Path]:
    """Each package's wheel, built by hatch's build backend (`hatchling build -t wheel`) in its directory."""
    wheels = {}
    for name, source in PACKAGES.items():
        before = set(dest.glob("*.whl"))
        subprocess.run(
            [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dest)],
            cwd=source, check=True, capture_output=True,
        )  # fmt: skip
        (wheels[name],) = set(dest.glob("*.whl")) - before
    return wheels


def clean_venv(path: Path, *requirements: str | Path) -> Path:
    """A new virtual environment holding only `requirements` and what they depend on; returns its python."""
    subprocess.run([*_uv(), "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run(
        [*_uv(), "pip", "install", "--quiet", "--python", str(python), *map(str, requirements)], check=True
    )
    return python


def installed(python: Path) -> set[str]:
    """Distribution names installed in a venv (lower case)."""
    out = subprocess.run([*_uv(), "pip", "list", "--python", str(python), "--format", "freeze"],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return {line.split("==")[0].lower() for line in out.splitlines() if "==" in line}


def run(executable: Path, *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600
        ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a venv's program (its python, or a script beside it) with that venv first on PATH, no PYTHONPATH."""
    environ = {k: v for k, v in (env or os.environ).items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environ["DO_NOT_TRACK"] = "1"
    environ["PATH"] = f"{executable.parent}{os.pathsep}{environ.get('PATH', '')}"
    command = [str(executable), *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout)
