"""Build the workspace's wheels and install them into clean virtual environments."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "core": ROOT / "packages" / "hydra-flyte-core",
    "launcher": ROOT / "packages" / "hydra-flyte-launcher",
    "cli": ROOT / "packages" / "flyte-hydra-cli",
}


def build_wheel(package: str, dest: Path) -> Path:
    """Build one package's wheel with pip (hatchling in an isolated build env)."""
    before = set(dest.glob("*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(dest),
            str(PACKAGES[package]),
        ],
        check=True,
    )
    (wheel,) = set(dest.glob("*.whl")) - before
    return wheel


def clean_venv(path: Path) -> Path:
    """A new virtual environment with pip; returns its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip_install(python: Path, *requirements: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)


def run(
    python: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the venv's python (no PYTHONPATH leaking in from this process)."""
    environ = {k: v for k, v in (env or os.environ).items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environ["DO_NOT_TRACK"] = "1"
    return subprocess.run(
        [str(python), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=600
    )
