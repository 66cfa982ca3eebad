"""The control plane's rules checked before anything is submitted (hydra_flyte.config.run_rules)."""

from __future__ import annotations

import random
import re

import pytest

from hydra_flyte.config import run_rules as rules
from hydra_flyte.errors import ConfigurationError, RunRuleError

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def refused(check, *args, **kwargs) -> RunRuleError:  # noqa: ANN001 - any check
    with pytest.raises(RunRuleError) as info:
        check(*args, **kwargs)
    assert isinstance(info.value, ConfigurationError), "a configuration error: exit 2, nothing submitted"
    return info.value


# -- run names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "exp-1", "a" * 30, "x1-y2", "a-b-c"])
def test_names_a_control_plane_accepts(name: str) -> None:
    assert rules.run_name_problem(name) is None
    rules.check_single_run({"name": name})


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("a" * 31, "31 characters"),
        ("My_Sweep", "upper-case letters"),
        ("exp_1", "'_'"),
        ("1st", "starts with '1'"),
        ("-x", "starts with '-'"),
        ("exp-", "ends with '-'"),
        ("exp.1", "'.'"),
        ("", "empty"),
    ],
)
def test_names_a_control_plane_refuses_say_why(name: str, fault: str) -> None:
    problem = rules.run_name_problem(name)
    assert problem is not None and fault in problem


def test_a_single_runs_long_name_names_the_rule_the_value_and_a_name_that_fits() -> None:
    error = refused(rules.check_single_run, {"name": "x" * 34})
    assert (error.rule, error.job, error.value) == ("run name length", "the run", "x" * 34)
    text = str(error)
    assert text.startswith("run name length rule:") and "34 characters" in text
    assert f"'{'x' * 30}'" in text, "a name that fits, as an example"
    assert "It was not submitted." in text


def test_a_sweep_name_too_long_for_its_job_count_says_the_longest_that_fits() -> None:
    """28 characters and 12 jobs: `<name>-11` is 31; with room for `-r<k>` the longest is 30 - 3 - 3 = 24."""
    error = refused(rules.check_sweep, {"name": "a" * 28}, job_nums=range(12))
    assert (error.rule, error.job, error.value) == ("run name length", "job 11", "a" * 28 + "-11")
    text = str(error)
    assert "the longest name that fits 12 jobs is 24 characters" in text
    assert "-r9" in text and "Nothing was submitted." in text
    assert "--name" in text and "run_options['name']" in text and "hydra.launcher.run_options.name" in text


def test_the_longest_name_the_error_offers_does_fit() -> None:
    for jobs in (1, 9, 10, 11, 12, 100, 101, 2000):
        fits = rules.longest_base(jobs - 1)
        rules.check_sweep({"name": "a" * fits}, job_nums=range(jobs))
        refused(rules.check_sweep, {"name": "a" * (fits + 1)}, job_nums=range(jobs))


def test_a_name_that_fits_now_but_leaves_no_room_for_a_new_attempt_is_refused() -> None:
    """`<name>-0` of 29 characters is accepted today, but its `-r1` (resume, rerun) would not be."""
    error = refused(rules.check_sweep, {"name": "a" * 27}, job_nums=[0])
    assert "the longest name that fits 1 job is 25 characters" in str(error)


def test_a_sampling_sweepers_later_trials_count_too() -> None:
    """Optuna launches batches: the names of trials not yet launched are checked with the first batch."""
    rules.check_sweep({"name": "a" * 25}, job_nums=range(4))
    error = refused(rules.check_sweep, {"name": "a" * 25}, job_nums=range(4), total=100)
    assert error.job == "job 99"


def test_a_sweep_name_that_is_no_dns1035_label_gets_a_label_like_it() -> None:
    error = refused(rules.check_sweep, {"name": "My_Sweep"}, job_nums=range(3))
    assert (error.rule, error.job, error.value) == ("run name format", "job 0", "My_Sweep-0")
    assert "'my-sweep'" in str(error) and "upper-case letters" in str(error)


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("My_Sweep", "my-sweep"), ("2024 run", "run"), ("exp__1--", "exp-1"), ("ÄÖ", None)],
)
def test_suggested_names_are_dns1035_labels(given: str, suggested: str | None) -> None:
    assert rules.dns1035_suggestion(given) == suggested
    if suggested:
        assert DNS1035.match(suggested)


def test_names_hydra_flyte_makes_always_fit_for_any_job_or_trial_count() -> None:
    """`hf-xxxxxxxx-<job>` (and its `-r<k>`, `-<call>`) pass every rule for every job number a sweep can have.

    A sweep composes every job's config in memory, so its job numbers are far below 10**15; up to
    there, with room for a new attempt `-r1`..`-r9` or a job's `flyte.run` calls 2..99, every name
    is at most 30 characters and a DNS-1035 label. Checked at every decade's edges, and for random
    sweep ids and job numbers.
    """
    rng = random.Random(21)
    sweep_ids = [rules.new_sweep_id() for _ in range(50)] + ["hf-00000000", "hf-ffffffff"]
    jobs = sorted({n for d in range(16) for n in (10**d - 1, 10**d) if n < 10**15} | {0})
    jobs += [rng.randrange(10**15) for _ in range(200)]
    for sweep_id in sweep_ids:
        assert re.fullmatch(r"hf-[0-9a-f]{8}", sweep_id)
        for job in jobs:
            rules.check_sweep({}, job_nums=[job], sweep_id=sweep_id)  # the launch's own check
            names = [rules.job_run_name(sweep_id, job)]
            names += [rules.attempt_run_name(names[0], k) for k in range(1, 10)]
            names += [rules.job_run_name(sweep_id, job, call) for call in range(2, 100)]
            for name in names:
                assert rules.run_name_problem(name) is None, name
                assert len(name) <= rules.RUN_NAME_MAX and DNS1035.match(name)


def test_a_trials_name_from_a_resumed_attempt_fits_for_realistic_counts() -> None:
    """Far beyond `-r9`: attempts up to 9,999 of jobs up to 10**12 still fit (30 - 12 - 12 = 6 = len('-r9999'))."""
    for job in (0, 10**12 - 1):
        for attempt in (10, 9999):
            assert rules.run_name_problem(rules.attempt_run_name(f"hf-abcdef01-{job}", attempt)) is None


# -- labels, annotations, env var names ----------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        {"team": "ml"},
        {"example.com/team": "ML_research.v2"},
        {"a": ""},
        {"k": "a" * 63},
        {"a" * 63: "v"},
        {("a" * 60 + ".") * 4 + "abcde/" + "n": "v"},
    ],
)
def test_labels_kubernetes_accepts(labels: dict[str, str]) -> None:
    rules.check_single_run({"labels": labels})


@pytest.mark.parametrize(
    ("labels", "rule", "value", "fault"),
    [
        ({"team": "ML Research"}, "label value", "ML Research", "' '"),
        ({"team": "a" * 64}, "label value", "a" * 64, "64 characters"),
        ({"team": "-ml"}, "label value", "-ml", "begin and end"),
        ({"Team Name": "ml"}, "label key", "Team Name", "' '"),
        ({"a" * 64: "v"}, "label key", "a" * 64, "64 characters"),
        ({"Example.com/team": "v"}, "label key", "Example.com/team", "DNS subdomain"),
        ({"/team": "v"}, "label key", "/team", "empty prefix"),
        ({"a/b/c": "v"}, "label key", "a/b/c", "more than one '/'"),
    ],
)
def test_labels_kubernetes_refuses_name_the_label_and_the_fix(
    labels: dict[str, str], rule: str, value: str, fault: str
) -> None:
    error = refused(rules.check_sweep, {"labels": labels}, job_nums=range(3))
    assert (error.rule, error.job, error.value) == (rule, "every job's run", value)
    text = str(error)
    assert fault in text and "QUEUED for ever" in text and "Fix:" in text


def test_a_label_value_with_a_space_is_offered_one_without() -> None:
    error = refused(rules.check_single_run, {"labels": {"team": "ML Research"}})
    assert "'ML-Research'" in str(error) and "annotation" in str(error)


def test_annotations_keys_and_size() -> None:
    rules.check_single_run({"annotations": {"Note": "any text, even ML Research: 100%"}})
    error = refused(rules.check_single_run, {"annotations": {"bad key!": "x"}})
    assert (error.rule, error.value) == ("annotation key", "bad key!")
    error = refused(rules.check_single_run, {"annotations": {"big": "x" * (256 * 1024)}})
    assert error.rule == "annotations size"


@pytest.mark.parametrize("name", ["API_TOKEN", "_x", "a.b-c", "Path"])
def test_env_var_names_a_pod_accepts(name: str) -> None:
    rules.check_single_run({"env_vars": {name: "v"}})


@pytest.mark.parametrize(
    ("name", "fault"), [("1PASS", "starts with a digit"), ("MY VAR", "' '"), ("A=B", "'='"), ("", "empty")]
)
def test_env_var_names_a_pod_refuses(name: str, fault: str) -> None:
    error = refused(rules.check_single_run, {"env_vars": {name: "v"}})
    assert (error.rule, error.value) == ("env var name", name)
    assert fault in str(error) and "Fix: rename it" in str(error)


def test_hydra_flytes_own_labels_are_checked_with_the_users() -> None:
    rules.check_sweep({"labels": {"team": "ml"}}, job_nums=range(200), sweep_id="hf-0123abcd")


# -- the launch's one call -----------------------------------------------------------------------


class _Settings:
    def __init__(self, **options: object) -> None:
        self.mode = options.pop("mode", "remote")
        self.resume = options.pop("resume", None)
        self.run_options = options


def test_check_launch_is_a_compact_error_and_skips_local_mode() -> None:
    from hydra.errors import CompactHydraException

    with pytest.raises(RunRuleError) as info:
        rules.check_launch(_Settings(name="a" * 28), job_nums=range(12))
    assert isinstance(info.value, CompactHydraException), "Hydra prints the message alone"
    rules.check_launch(_Settings(name="a" * 28, mode="local"), job_nums=range(12))


def test_check_launch_reads_a_sampling_sweepers_trial_count() -> None:
    from omegaconf import OmegaConf

    sweeper = OmegaConf.create({"n_trials": 1000})
    rules.check_launch(_Settings(name="a" * 24), job_nums=range(4))
    with pytest.raises(RunRuleError, match="job 999"):
        rules.check_launch(_Settings(name="a" * 24), job_nums=range(4), sweeper=sweeper)


def test_a_resumed_sweeps_names_are_left_to_its_new_attempts_check() -> None:
    rules.check_launch(_Settings(name="a" * 28, resume="sweep"), job_nums=range(12))
    with pytest.raises(RunRuleError, match="label value"):
        rules.check_launch(_Settings(resume="sweep", labels={"t": "a b"}), job_nums=range(12))
