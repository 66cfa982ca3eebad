"""Bad input in the three entry points, against the loopback control plane: nothing is submitted.

Each case checks the exit code (or exception type), that no traceback is shown, the words of the
message (the bad value and the fix), and that the control plane received no CreateRun. A dead
endpoint (nothing listening on the configured port) must be reported, naming it, in well under
the SDK's own retry loop; the bound asserted (15 s) is the product's promise, not a benchmark.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane
from hydra_tasks import objective

from hydra_flyte import ConfigurationError, NoEndpointError, hydra_run, hydra_sweep, sweep_status
from hydra_flyte.errors import EndpointUnreachableError, SweepValidationError

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
FLYTE = Path(sys.executable).parent / "flyte"
SMALL = ("--config-path", "conf", "--config-name", "training")
#: Six jobs, the fourth with a cpu value Kubernetes would reject.
SIX_JOBS_ONE_BAD = "+task_env.objective.resources.cpu=1,2,3,lots,5,6"
DEAD_ENDPOINT_BOUND_SECONDS = 15


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").replace("─", " ").split())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input-project")
    shutil.copytree(HERE / "conf", root / "conf")
    for name in ("hydra_tasks.py", "launcher_app.py"):
        shutil.copy(HERE / name, root / name)
    return root


@pytest.fixture
def cp(control_plane: ControlPlane) -> ControlPlane:
    control_plane.reset()
    yield control_plane
    control_plane.reset()


@pytest.fixture
def workdir(project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the project, so each test's sweep directories are its own."""
    target = tmp_path / "project"
    shutil.copytree(project, target)
    return target


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def cli(cp: ControlPlane, cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    return run([str(FLYTE), "hydra", *args], cwd=cwd, env=env or {**cp.env(), "COLUMNS": "400"})


def app(cp: ControlPlane, cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    return run([sys.executable, "launcher_app.py", *args], cwd=cwd, env=env or cp.env())


def manifests(root: Path) -> list[Path]:
    return sorted(root.rglob("flyte-sweep.json"))


def planned_jobs(root: Path) -> int:
    return sum(len(json.loads(p.read_text())["jobs"]) for p in manifests(root))


def no_runs(cp: ControlPlane) -> bool:
    return not cp.requests.of("RunService/CreateRun")


def dead_endpoint_env(cp: ControlPlane, tmp_path: Path) -> tuple[dict[str, str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    config = tmp_path / "dead.yaml"
    config.write_text(
        f"admin:\n  endpoint: dns:///127.0.0.1:{port}\n  insecure: true\ntask:\n  project: p\n  domain: d\n"
    )
    env = {**cp.env(config), "COLUMNS": "400"}
    return env, f"127.0.0.1:{port}"


# -- task_env invalid in one job of six -------------------------------------------------------


def test_sdk_sweep_with_one_invalid_job_submits_nothing(
    flyte_remote: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SweepValidationError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=[SIX_JOBS_ONE_BAD])
    message = str(info.value)
    assert message.startswith("1 of 6 jobs of the sweep is invalid, so nothing was submitted:")
    assert "job 3 [+task_env.objective.resources.cpu=lots]" in message
    assert "'lots' is not a Kubernetes quantity" in message
    assert no_runs(flyte_remote) and flyte_remote.requests.created_runs() == []
    assert manifests(tmp_path) == []


def test_cli_sweep_with_one_invalid_job_exits_2_and_submits_nothing(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = cli(
        cp, workdir, "run", "--multirun", *SMALL, "hydra_tasks.py", "objective", "--cfg", SIX_JOBS_ONE_BAD
    )
    assert code == 2, out
    text = flat(out)
    assert (
        "1 of 6 jobs of the sweep is invalid" in text
        and "job 3 [+task_env.objective.resources.cpu=lots]" in text
    )
    assert "Traceback" not in out
    assert no_runs(cp) and manifests(workdir) == []


def test_launcher_sweep_with_one_invalid_job_submits_nothing(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = app(cp, workdir, "--multirun", "hydra/launcher=flyte", SIX_JOBS_ONE_BAD)
    assert code == 1, out
    assert "1 of 6 jobs of the sweep is invalid, so nothing was submitted" in out
    assert "job 3 [+task_env.objective.resources.cpu=lots]" in out
    assert "Traceback" not in out
    assert no_runs(cp) and manifests(workdir) == []


def test_launcher_unknown_run_option_leaves_no_manifest(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = app(
        cp,
        workdir,
        "--multirun",
        "hydra/launcher=flyte",
        "+hydra.launcher.run_options.nmae=x",
        "optimizer.lr=1,2",
    )
    assert code == 1, out
    assert "unknown run option 'nmae'. Did you mean 'name'?" in out
    assert "Traceback" not in out
    assert no_runs(cp) and planned_jobs(workdir) == 0


def test_launcher_errors_inside_a_single_run_have_no_traceback(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = app(cp, workdir, "hydra/launcher=flyte", "hydra.launcher.mode=bogus")
    assert code == 1, out
    assert "mode must be 'local' or 'remote', got 'bogus'" in out and "Traceback" not in out
    code, out, _ = app(cp, workdir, "hydra/launcher=flyte", "+task_env.objective.resources.memory=8GB")
    assert code == 1, out
    assert "'task_env.objective.resources.memory' = '8GB' is not a Kubernetes quantity" in out
    assert "Traceback" not in out
    assert no_runs(cp)


def test_a_tasks_own_failure_still_shows_its_traceback(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = app(cp, workdir, "hydra/launcher=flyte", "hydra.launcher.mode=local", "+task=fails_for_sgd",
                       "optimizer=sgd")  # fmt: skip
    assert code == 1, out
    assert "loss exploded" in out and "Traceback" in out


# -- other bad input ---------------------------------------------------------------------------


def test_sdk_task_input_of_the_wrong_type(
    flyte_remote: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="input 'offset' needs float, got 'abc' \\(str\\)"):
        hydra_run(objective, config_path=CONF, config_name="training", offset="abc")
    with pytest.raises(ConfigurationError, match="input 'offset' needs float"):
        hydra_sweep(
            objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2"], offset="abc"
        )
    assert no_runs(flyte_remote)


def test_cli_bad_mode_override_is_named_before_the_endpoint(
    cp: ControlPlane, workdir: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in cp.env().items() if k not in ("FLYTECTL_CONFIG", "FLYTE_API_KEY")}
    env["HOME"] = str(tmp_path / "empty-home")
    (tmp_path / "empty-home").mkdir()
    code, out, _ = cli(
        cp, workdir, "run", *SMALL, "--hydra-override", "hydra.launcher.mode=bogus", "hydra_tasks.py", "objective",
        env=env,
    )  # fmt: skip
    assert code == 2, out
    assert "mode must be 'local' or 'remote', got 'bogus'" in flat(out)
    assert "no Flyte endpoint configured" not in flat(out) and "Traceback" not in out


def test_cli_interval_without_a_sweeper_names_the_fix(cp: ControlPlane, workdir: Path) -> None:
    code, out, _ = cli(
        cp,
        workdir,
        "run",
        "--multirun",
        *SMALL,
        "hydra_tasks.py",
        "objective",
        "--cfg",
        "optimizer.lr=interval(0.1,1)",
    )
    assert code == 2, out
    assert "samples from an interval" in flat(out) and "hydra/sweeper=optuna" in flat(out)
    assert "Traceback" not in out and no_runs(cp)


# -- a dead endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize("multirun", [False, True])
def test_cli_dead_endpoint_is_named_quickly(
    cp: ControlPlane, workdir: Path, tmp_path: Path, multirun: bool
) -> None:
    env, where = dead_endpoint_env(cp, tmp_path)
    sweep = ["--multirun"] if multirun else []
    cfg = ["--cfg", "optimizer.lr=1,2"] if multirun else []
    code, out, seconds = cli(cp, workdir, "run", *sweep, *SMALL, "hydra_tasks.py", "objective", *cfg, env=env)
    assert code == 1, out
    assert f"cannot reach the Flyte endpoint http://{where}" in flat(out) and "admin.endpoint" in flat(out)
    assert "Traceback" not in out
    assert seconds < DEAD_ENDPOINT_BOUND_SECONDS
    assert manifests(workdir) == []


@pytest.mark.parametrize("multirun", [False, True])
def test_launcher_dead_endpoint_is_named_quickly(
    cp: ControlPlane, workdir: Path, tmp_path: Path, multirun: bool
) -> None:
    env, where = dead_endpoint_env(cp, tmp_path)
    args = (
        ["--multirun", "hydra/launcher=flyte", "optimizer.lr=1,2"] if multirun else ["hydra/launcher=flyte"]
    )
    code, out, seconds = app(cp, workdir, *args, env=env)
    assert code == 1, out
    assert f"cannot reach the Flyte endpoint http://{where}" in out
    assert "Traceback" not in out
    assert seconds < DEAD_ENDPOINT_BOUND_SECONDS
    assert planned_jobs(workdir) == 0


def test_sdk_dead_endpoint_is_named_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flyte
    from flyte_loopback._sdk_private import restored_flyte_init

    monkeypatch.chdir(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with restored_flyte_init():
        flyte.init(endpoint=f"http://127.0.0.1:{port}", insecure=True, project="p", domain="d", org="o")
        for call in (
            lambda: hydra_run(objective, config_path=CONF, config_name="training"),
            lambda: hydra_sweep(
                objective, config_path=CONF, config_name="training", overrides=["optimizer.lr=1,2"]
            ),
        ):
            start = time.monotonic()
            with pytest.raises(
                EndpointUnreachableError, match=f"cannot reach the Flyte endpoint http://127.0.0.1:{port}"
            ):
                call()
            assert time.monotonic() - start < DEAD_ENDPOINT_BOUND_SECONDS
    assert manifests(tmp_path) == []


def test_status_against_a_dead_endpoint_is_named_quickly(
    flyte_remote: ControlPlane, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    results = hydra_sweep(
        objective, config_path=str(workdir / "conf"), config_name="training", overrides=["optimizer.lr=1,2"],
        wait=False,
    )  # fmt: skip
    assert len(results) == 2
    (manifest,) = manifests(Path.cwd())
    env, where = dead_endpoint_env(flyte_remote, tmp_path)
    code, out, seconds = cli(flyte_remote, workdir, "status", str(manifest), env=env)
    assert code == 1, out
    assert f"cannot reach the Flyte endpoint http://{where}" in flat(out) and "Traceback" not in out
    assert seconds < DEAD_ENDPOINT_BOUND_SECONDS
    import flyte
    from flyte_loopback._sdk_private import restored_flyte_init

    with (
        restored_flyte_init(),
        pytest.raises(NoEndpointError, match=f"cannot reach the Flyte endpoint http://{where}"),
    ):
        flyte.init(endpoint=f"http://{where}", insecure=True, project="p", domain="d", org="o")
        sweep_status(manifest)
