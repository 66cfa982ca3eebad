"""What a real Flyte control plane refuses is refused by hydra-flyte first: nothing is sent, one error says why.

Each scenario runs against a loopback control plane of each profile (open-source: the backend's own
name checks, Kubernetes metadata leaving a run QUEUED for ever, projects that must exist; hosted:
protovalidate on every request), through the SDK, `flyte hydra run` and a `@hydra.main` app with
`hydra/launcher=flyte`, and in a dry run. The assertion that matters is the control plane's record:
no CreateRun (nor UploadInputs) arrived, so no sweep was half-submitted and no run sits QUEUED.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flyte_loopback import ControlPlane
from flyte_loopback._sdk_private import restored_flyte_init
from hydra_tasks import objective

from hydra_flyte import RunRuleError, SweepFailedError, hydra_run, hydra_sweep

HERE = Path(__file__).resolve().parent
CONF = str(HERE / "conf")
FLYTE = Path(sys.executable).with_name("flyte")
SMALL = ("--config-path", "conf", "--config-name", "training")
LONG = "exp-with-a-rather-long-name1"  # 28 characters: `-10` makes 31

pytestmark = pytest.mark.slow


@pytest.fixture
def cp(cp_each_profile: ControlPlane) -> ControlPlane:
    """A control plane of each profile in turn (conftest's cp_each_profile); `project` is conftest's."""
    return cp_each_profile


assert len(LONG) == 28


def sent_nothing(cp: ControlPlane) -> bool:
    """No run was created, no inputs uploaded, no code bundle: nothing of the launch reached the control plane."""
    sent = {"RunService/CreateRun", "DataProxyService/UploadInputs", "DataProxyService/CreateUploadLocation"}
    return not [r for r in cp.requests.all() if r.method in sent]


def lrs(n: int) -> str:
    return "optimizer.lr=" + ",".join(str(i + 1) for i in range(n))


def flyte_cli(cp: ControlPlane, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cp.env(cp.write_flyte_config(cwd / "flyte-cli.yaml"))
    env["COLUMNS"] = "400"
    return subprocess.run([str(FLYTE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def launcher_app(cp: ControlPlane, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cp.env(cp.write_flyte_config(cwd / "flyte-app.yaml"))
    flags = [a for a in args if a.startswith("--")]
    rest = [a for a in args if not a.startswith("--")]
    return subprocess.run([sys.executable, "launcher_app.py", *flags, "hydra/launcher=flyte", *rest], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


# ---------------------------------------------------------------- run names


def test_sdk_sweep_whose_last_jobs_names_are_too_long_sends_nothing(cp: ControlPlane, tmp_path: Path) -> None:
    """The issue's 12 jobs named with 28 characters: jobs 10 and 11 would be refused, after 0-9 ran."""
    with pytest.raises(RunRuleError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training",
                    overrides=[lrs(12), f"hydra.sweep.dir={tmp_path / 'sweep'}"], run_options={"name": LONG})  # fmt: skip
    error = info.value
    assert (error.rule, error.job, error.value) == ("run name length", "job 11", f"{LONG}-11")
    assert "the longest name that fits 12 jobs is 24 characters" in str(error)
    assert sent_nothing(cp)
    assert not (tmp_path / "sweep" / "flyte-sweep.json").exists(), "no manifest: nothing was planned"


def test_sdk_single_run_name_of_34_characters_sends_nothing(cp: ControlPlane, tmp_path: Path) -> None:
    name = "a-single-run-named-with-34-chars-x"
    assert len(name) == 34
    with pytest.raises(
        RunRuleError, match=r"run name length rule: the run name '.*' of the run is 34 characters"
    ):
        hydra_run(objective, config_path=CONF, config_name="training",
                  overrides=["optimizer.lr=1", f"hydra.run.dir={tmp_path / 'one'}"], run_options={"name": name})  # fmt: skip
    assert sent_nothing(cp)


def test_cli_name_that_is_no_dns1035_label_exits_2_and_sends_nothing(cp: ControlPlane, project: Path) -> None:
    result = flyte_cli(cp, project, "hydra", "run", *SMALL, "--multirun", "--name", "My_Sweep", "hydra_tasks.py",
                       "objective", "--cfg", lrs(3), "--hydra-override", f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    text = flat(result.stderr)
    assert "run name format rule: job 0's run name 'My_Sweep-0' is not a DNS-1035 label" in text, text
    assert "'my-sweep'" in text and "Nothing was submitted." in text
    assert result.stdout == "", "stdout carries results only"
    assert sent_nothing(cp)


def test_cli_dry_run_refuses_a_name_too_long_for_its_jobs(cp: ControlPlane, project: Path) -> None:
    result = flyte_cli(cp, project, "hydra", "run", *SMALL, "--multirun", "--dry-run", "--name", LONG,
                       "hydra_tasks.py", "objective", "--cfg", lrs(12))  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the longest name that fits 12 jobs is 24 characters" in flat(result.stderr)
    assert sent_nothing(cp)


def test_cli_single_run_name_too_long_exits_2(cp: ControlPlane, project: Path) -> None:
    result = flyte_cli(cp, project, "hydra", "run", *SMALL, "--name", "x" * 31, "hydra_tasks.py", "objective",
                       "--cfg", "optimizer.lr=1")  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run name length rule" in flat(result.stderr)
    assert sent_nothing(cp)


def test_launcher_multirun_name_too_long_is_one_compact_error(cp: ControlPlane, project: Path) -> None:
    result = launcher_app(cp, project, "--multirun", lrs(12), f"hydra.launcher.run_options.name={LONG}",
                          f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    text = flat(result.stderr)
    assert "run name length rule: job 11's run name" in text and "24 characters" in text, text
    assert "Traceback" not in result.stderr, "Hydra prints our error as its message alone"
    assert sent_nothing(cp)


@pytest.mark.parametrize("sweeper", ["optuna", "optuna_async"])
def test_optuna_sweeps_are_checked_for_every_trial_before_the_first(
    cp: ControlPlane, project: Path, sweeper: str
) -> None:
    """A sampling sweeper launches trials over time; trial 11's name is checked before trial 0 is submitted."""
    result = launcher_app(cp, project, "--multirun", f"hydra/sweeper={sweeper}", "hydra.sweeper.n_trials=12",
                          "hydra.sweeper.n_jobs=3", "optimizer.lr=interval(0.1,1.0)",
                          f"hydra.launcher.run_options.name={LONG}", f"hydra.sweep.dir={project / 'sweep'}")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run name length rule: job 11's run name" in flat(result.stderr), result.stderr
    assert sent_nothing(cp)


# ---------------------------------------------------------------- labels, annotations, env var names


def test_sdk_label_value_kubernetes_refuses_sends_nothing(cp: ControlPlane, tmp_path: Path) -> None:
    """On the open-source backend the runs would be accepted and stay QUEUED for ever; the sweep would wait for ever."""
    with pytest.raises(RunRuleError) as info:
        hydra_sweep(objective, config_path=CONF, config_name="training", overrides=[lrs(3)],
                    run_options={"labels": {"team": "ML Research"}})  # fmt: skip
    error = info.value
    assert (error.rule, error.job, error.value) == ("label value", "every job's run", "ML Research")
    assert "run_options['labels']['team'] = 'ML Research'" in str(error) and "'ML-Research'" in str(error)
    assert sent_nothing(cp)


def test_cli_label_and_env_var_name_exit_2(cp: ControlPlane, project: Path) -> None:
    label = flyte_cli(cp, project, "hydra", "run", *SMALL, "--multirun", "--label", "team=ML Research",
                      "hydra_tasks.py", "objective", "--cfg", lrs(2))  # fmt: skip
    assert label.returncode == 2, label.stdout + label.stderr
    assert "label value rule" in flat(label.stderr)
    env = flyte_cli(cp, project, "hydra", "run", *SMALL, "--env", "1PASS=x", "hydra_tasks.py", "objective",
                    "--cfg", "optimizer.lr=1")  # fmt: skip
    assert env.returncode == 2, env.stdout + env.stderr
    assert "env var name rule: the environment variable name '1PASS'" in flat(env.stderr)
    assert sent_nothing(cp)


def test_launcher_single_run_with_a_bad_label_key_exits_1(cp: ControlPlane, project: Path) -> None:
    result = launcher_app(cp, project, "optimizer.lr=1", "+hydra.launcher.run_options.labels={Team Name: ml}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "label key rule: the label key 'Team Name'" in flat(result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert sent_nothing(cp)


# ---------------------------------------------------------------- what holds: defaults, projects


def test_names_made_from_the_sweep_id_pass_every_rule(cp: ControlPlane, tmp_path: Path) -> None:
    results = hydra_sweep(objective, config_path=CONF, config_name="training",
                          overrides=[lrs(12), f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          run_options={"labels": {"team": "ml-research"}})  # fmt: skip
    assert [float(r) for r in results] == [2.0 * (i + 1) for i in range(12)]
    names = sorted(c.name for c in cp.requests.created_runs())
    assert len(names) == 12 and all(len(n) <= 30 and n.startswith("hf-") for n in names)
    assert all(r.error is None for r in cp.requests.of("RunService/CreateRun"))


def test_a_project_the_open_source_backend_does_not_have_creates_no_run(
    cp_open_source: ControlPlane, tmp_path: Path
) -> None:
    """The project is the control plane's to know: the first request names it, and no run is created."""
    import flyte

    cp_open_source.reset()
    with restored_flyte_init():
        flyte.init(endpoint=cp_open_source.endpoint, insecure=True, project="no-such-project",
                   domain=cp_open_source.domain, org=cp_open_source.org, root_dir=HERE)  # fmt: skip
        with pytest.raises(SweepFailedError) as info:
            hydra_sweep(objective, config_path=CONF, config_name="training",
                        overrides=[lrs(3), f"hydra.sweep.dir={tmp_path / 'sweep'}"])  # fmt: skip
    assert all('project "no-such-project" not found' in str(o.error) for o in info.value.outcomes)
    assert not cp_open_source.requests.of("RunService/CreateRun"), "no run was created"
    cp_open_source.reset()


def test_a_missing_project_through_the_cli_and_the_launcher_creates_no_run(
    cp_open_source: ControlPlane, project: Path
) -> None:
    cp = cp_open_source
    cp.reset()
    config = cp.write_flyte_config(project / "flyte-nope.yaml")
    config.write_text(config.read_text().replace(f"project: {cp.project}", "project: no-such-project"))
    env = cp.env(config)
    env["COLUMNS"] = "400"
    cli = subprocess.run([str(FLYTE), "hydra", "run", *SMALL, "--multirun", "hydra_tasks.py", "objective",
                          "--cfg", lrs(2), "--hydra-override", f"hydra.sweep.dir={project / 'cli'}"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert 'project "no-such-project" not found' in flat(cli.stdout + cli.stderr)
    app = subprocess.run([sys.executable, "launcher_app.py", "--multirun", "hydra/launcher=flyte", lrs(2),
                          f"hydra.sweep.dir={project / 'app'}"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert app.returncode == 1, app.stdout + app.stderr
    assert 'project "no-such-project" not found' in flat(app.stdout + app.stderr)
    assert not cp.requests.of("RunService/CreateRun"), "no run was created"
    cp.reset()
