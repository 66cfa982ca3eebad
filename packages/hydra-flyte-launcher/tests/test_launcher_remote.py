"""The example script in remote mode, against the repository's loopback Flyte control plane.

The control plane (tests-integration/flyte_loopback) speaks the real Flyte 2 protocol on
127.0.0.1 and runs each submitted task for real, so these tests exercise submission, the
printed run URL, waiting, and how results reach Hydra's sweepers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOAT = r"[0-9]+\.[0-9]+(?:e-?[0-9]+)?"
_LOOPBACK = str(Path(__file__).resolve().parents[3] / "tests-integration")


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if _LOOPBACK not in sys.path:
        sys.path.insert(0, _LOOPBACK)
    try:
        from flyte_loopback import ControlPlane
    except ImportError as exc:  # pragma: no cover - the fixture needs uvicorn
        pytest.skip(f"loopback control plane unavailable: {exc}")
    home = tmp_path_factory.mktemp("remote-home")
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"), home=home).start()
    cp.write_flyte_config(home / ".flyte" / "config.yaml")
    try:
        yield cp
    finally:
        cp.close()


def run_train(project: Path, control_plane: object, *args: str) -> subprocess.CompletedProcess[str]:
    """`python train.py ARGS` with the default Flyte config pointing at the control plane."""
    env = control_plane.env()  # type: ignore[attr-defined]
    env.pop("FLYTECTL_CONFIG")  # found through HOME, as a user's would be
    env["HYDRA_FULL_ERROR"] = "0"
    proc = subprocess.run(
        [sys.executable, "train.py", *args, "training.epochs=3"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def test_single_remote_run_waits_for_the_value(example_project: Path, control_plane: object) -> None:
    proc = run_train(example_project, control_plane, "hydra/launcher=flyte")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    submitted = re.search(r"Submitted (\S+) \(training.epochs=3\): (http://127\.0\.0\.1:\d+/\S+)", text)
    assert submitted, text
    name, url = submitted.groups()
    assert re.search(rf"finished: RunResult\(value={FLOAT}, url='{re.escape(url)}'\)", text), text
    assert control_plane.run(name).phase == "SUCCEEDED"  # type: ignore[attr-defined]
    assert text.index("Submitted") < text.index("finished:")


def test_remote_optuna_reads_waited_values(example_project: Path, control_plane: object) -> None:
    proc = run_train(
        example_project,
        control_plane,
        "--multirun",
        "hydra/launcher=flyte",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "optimizer.lr=interval(1e-3,1e-1)",
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert len(re.findall(r"^Submitted ", text, flags=re.MULTILINE)) == 2
    values = [float(v) for v in re.findall(rf"finished: RunResult\(value=({FLOAT}),", text)]
    assert len(values) == 2
    best = re.search(rf"Best value: ({FLOAT})", text)
    assert best and float(best.group(1)) == pytest.approx(min(values))


def test_remote_sweep_without_waiting(example_project: Path, control_plane: object) -> None:
    proc = run_train(
        example_project,
        control_plane,
        "--multirun",
        "hydra/launcher=flyte",
        "hydra.launcher.wait=false",
        "optimizer.lr=0.01,0.1",
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    names = re.findall(r"^Submitted (\S+) ", text, flags=re.MULTILINE)
    assert len(names) == 2
    assert len(re.findall(r"submitted, not completed \(hydra.launcher.wait=false\)", text)) == 2
    assert "finished:" not in text
    for name in names:  # the control plane has the runs; they go on without the script
        assert control_plane.run(name) is not None  # type: ignore[attr-defined]
