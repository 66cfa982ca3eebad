"""Every bad input is found before anything runs or is submitted, with the bad value and the fix named."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from core_tasks import echo_config, objective
from hydra.errors import CompactHydraException

from hydra_flyte import ConfigurationError, hydra_run, hydra_sweep
from hydra_flyte.config.validation import compact, host_and_port, probe_endpoint
from hydra_flyte.errors import EndpointUnreachableError, NoEndpointError, SweepValidationError
from hydra_flyte.remote.held_submissions import HeldSubmissions
from hydra_flyte.remote.submission_pool import SubmissionPool


def sweep(conf_dir: str, overrides: list[str], **kwargs: object) -> object:
    kwargs.setdefault("mode", "local")
    return hydra_sweep(objective, config_path=conf_dir, config_name="training", overrides=overrides, **kwargs)


def job_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("multirun/*/*/*") if p.is_dir())


# -- task_env across a sweep -------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True])
def test_one_bad_resource_in_a_sweep_runs_no_job_and_names_it(
    conf_dir: str, tmp_path: Path, dry_run: bool
) -> None:
    values = "1,2,3,lots,5,6"
    with pytest.raises(SweepValidationError) as info:
        sweep(conf_dir, [f"+task_env.objective.resources.cpu={values}"], dry_run=dry_run)
    message = str(info.value)
    assert message.startswith("1 of 6 jobs of the sweep is invalid, so nothing was submitted:")
    assert "job 3 [+task_env.objective.resources.cpu=lots]" in message
    assert "'task_env.objective.resources.cpu' = 'lots' is not a Kubernetes quantity" in message
    assert "memory: 512Mi" in message  # the fix: what a quantity looks like
    assert [j.job_num for j in info.value.invalid] == [3]
    assert job_dirs(tmp_path) == []  # not one job ran (local) or was planned (dry run)


def test_a_child_tasks_entry_is_checked_too(conf_dir: str) -> None:
    # No task of this sweep is called train_model here: its entry is used by apply_task_env in the pod.
    with pytest.raises(SweepValidationError, match="'task_env.train_model.resources.memory' = '8GB'"):
        sweep(conf_dir, ["+task_env.train_model.resources.memory=8GB", "optimizer.lr=0.1,0.2"])


def test_request_above_limit(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="requests '4Gi', more than its limit '2Gi'"):
        sweep(conf_dir, ["+task_env.objective.resources.memory=[4Gi,2Gi]", "optimizer.lr=0.1,0.2"])


def test_good_quantities_pass(conf_dir: str) -> None:
    results = sweep(
        conf_dir,
        ["+task_env.objective.resources.cpu=500m,2", "+task_env.objective.resources.memory=[1Gi,2Gi]"],
    )
    assert len(results) == 2


def test_unknown_task_env_setting_suggests_the_closest(conf_dir: str) -> None:
    with pytest.raises(
        SweepValidationError, match="unknown setting\\(s\\) 'resorces'. Did you mean 'resources'"
    ):
        sweep(conf_dir, ["+task_env.objective.resorces.cpu=1", "optimizer.lr=0.1,0.2"])


def test_many_invalid_jobs_show_the_first_few_then_a_count(conf_dir: str) -> None:
    with pytest.raises(SweepValidationError) as info:
        sweep(conf_dir, ["+task_env.objective.resources.cpu=a,b,c,d,e,f,g,h"])
    message = str(info.value)
    assert message.startswith("8 of 8 jobs")
    assert message.count("is not a Kubernetes quantity") == 5
    assert "... and 3 more (jobs 5, 6, 7)" in message


# -- settings, before the endpoint -------------------------------------------------------------


@pytest.mark.usefixtures("no_flyte_endpoint")
def test_a_bad_mode_override_is_named_before_the_missing_endpoint(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="mode must be 'local' or 'remote', got 'bogus'"):
        hydra_run(
            echo_config, config_path=conf_dir, config_name="training", overrides=["hydra.launcher.mode=bogus"]
        )


@pytest.mark.usefixtures("no_flyte_endpoint")
def test_a_mode_override_is_honoured(conf_dir: str) -> None:
    result = hydra_run(
        echo_config, config_path=conf_dir, config_name="training", overrides=["hydra.launcher.mode=local"]
    )
    assert "optimizer" in result.value


@pytest.mark.parametrize("function", [hydra_run, hydra_sweep])
def test_unknown_launcher_field_lists_the_fields(conf_dir: str, function: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        function(  # type: ignore[operator]
            echo_config, config_path=conf_dir, config_name="training", mode="local",
            overrides=["hydra.launcher.wiat=false"],
        )  # fmt: skip
    message = str(info.value)
    assert "unknown launcher field hydra.launcher.wiat. Did you mean 'wait'?" in message
    assert "accepts: mode, wait, wait_max_workers, submit_max_workers" in message


def test_unknown_run_option_suggests_the_closest(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown run option 'nmae'. Did you mean 'name'"):
        hydra_run(
            echo_config, config_path=conf_dir, config_name="training", mode="local", run_options={"nmae": "x"}
        )


def test_run_options_must_be_a_mapping(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError, match="run_options must be a mapping.*got list"):
        hydra_run(
            echo_config, config_path=conf_dir, config_name="training", mode="local", run_options=["name"]
        )


def test_env_vars_must_be_a_mapping(conf_dir: str) -> None:
    with pytest.raises(
        ConfigurationError, match="run_options\\['env_vars'\\] must be a mapping.*got str \\('A=1'\\)"
    ):
        hydra_run(
            echo_config,
            config_path=conf_dir,
            config_name="training",
            mode="local",
            run_options={"env_vars": "A=1"},
        )


def test_interval_without_a_sweeper_names_the_fix(conf_dir: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        sweep(conf_dir, ["optimizer.lr=interval(0.001,0.1)"])
    message = str(info.value)
    assert "'optimizer.lr=interval(0.001,0.1)' samples from an interval" in message
    assert "hydra/sweeper=optuna" in message


# -- task inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_a_task_input_of_the_wrong_type_is_named_before_anything_runs(
    conf_dir: str, tmp_path: Path, mode: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        hydra_run(objective, config_path=conf_dir, config_name="training", mode=mode, scale="abc")
    message = str(info.value)
    assert "task 'objective' input 'scale' needs float, got 'abc' (str)" in message
    assert not (tmp_path / "outputs").exists()  # Hydra never started


def test_a_task_input_of_the_right_type_passes(conf_dir: str) -> None:
    assert hydra_run(objective, config_path=conf_dir, config_name="training", mode="local", scale=2).value > 0


# -- the endpoint ------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_endpoint_is_named() -> None:
    port = _closed_port()
    with pytest.raises(EndpointUnreachableError) as info:
        probe_endpoint(f"dns:///127.0.0.1:{port}")
    assert isinstance(info.value, NoEndpointError)
    assert f"cannot reach the Flyte endpoint dns:///127.0.0.1:{port} (127.0.0.1:{port}:" in str(info.value)
    assert "admin.endpoint" in str(info.value)


def test_a_listening_endpoint_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        probe_endpoint(f"http://127.0.0.1:{server.getsockname()[1]}")


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("dns:///flyte.example.com:8089", ("flyte.example.com", 8089)),
        ("https://flyte.example.com", ("flyte.example.com", 443)),
        ("http://localhost", ("localhost", 80)),
        ("127.0.0.1:30080", ("127.0.0.1", 30080)),
    ],
)
def test_endpoint_host_and_port(endpoint: str, expected: tuple[str, int]) -> None:
    assert host_and_port(endpoint) == expected


# -- compact errors and held submissions -------------------------------------------------------


def test_compact_keeps_the_type_and_message() -> None:
    error = SweepValidationError([], total=3)
    made = compact(error)
    assert isinstance(made, SweepValidationError) and isinstance(made, CompactHydraException)
    assert str(made) == str(error) and made.total == 3
    assert compact(made) is made


def test_held_submissions_start_only_when_released() -> None:
    started: list[int] = []
    seen: list[int] = []
    with SubmissionPool(max_workers=2) as pool:
        held = HeldSubmissions(pool)
        runs = [
            held.submit(lambda n=n: started.append(n) or n, label=str(n), on_submitted=seen.append)
            for n in range(3)
        ]
        assert started == [] and len(held) == 3
        held.release()
        assert [run.result() for run in runs] == [0, 1, 2]
    assert sorted(started) == [0, 1, 2] and sorted(seen) == [0, 1, 2]


def test_cancelled_submissions_never_start() -> None:
    started: list[int] = []
    with SubmissionPool(max_workers=2) as pool:
        held = HeldSubmissions(pool)
        run = held.submit(lambda: started.append(1), label="x", on_submitted=lambda r: None)
        held.cancel(ConfigurationError("job 3 is invalid"))
        with pytest.raises(ConfigurationError, match="job 3 is invalid"):
            run.result()
    assert started == []


def test_reading_a_held_run_starts_that_one_only() -> None:
    started: list[str] = []
    gate = threading.Event()
    with SubmissionPool(max_workers=2) as pool:
        held = HeldSubmissions(pool)
        first = held.submit(lambda: started.append("a") or "a", label="a", on_submitted=lambda r: gate.set())
        held.submit(lambda: started.append("b") or "b", label="b", on_submitted=lambda r: None)
        assert first.result() == "a"
        assert started == ["a"] and len(held) == 1
        held.cancel(ConfigurationError("stop"))


def test_interval_without_optuna_installed_says_how_to_install_it(
    conf_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        # Stands in for an environment without hydra-optuna-sweeper (a stub of one lookup, named as such).
        return None if name == "hydra_plugins.hydra_optuna_sweeper" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(
        ConfigurationError,
        match="hydra/sweeper=optuna \\(install it first: pip install hydra-optuna-sweeper\\)",
    ):
        sweep(conf_dir, ["optimizer.lr=interval(0.001,0.1)"])
