"""Whose run is it: ALREADY_EXISTS recognised, labels compared, clashes named, submissions halted.

The control plane's side (a run created, its reply lost, the retry answered ALREADY_EXISTS) is the
integration suite's (tests-integration/test_sweep_faults.py); here the pieces on their own.
"""

from __future__ import annotations

import threading

import flyte.errors
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from hydra_flyte.engine.outcomes import submission_failure_phase
from hydra_flyte.errors import NotSubmittedError
from hydra_flyte.remote.ownership import is_already_exists, is_not_found, is_ours, name_clash
from hydra_flyte.remote.submission_pool import SubmissionPool
from hydra_flyte.state.manifest import Manifest


def _flyte_already_exists() -> BaseException:
    """What flyte.run raises for ALREADY_EXISTS: its own error, the ConnectError as context."""
    try:
        try:
            raise ConnectError(Code.ALREADY_EXISTS, "run 'x-0' already exists")
        except ConnectError:  # as flyte does it: the ConnectError is only the context
            raise flyte.errors.RuntimeUserError(  # noqa: B904
                "RunAlreadyExistsError", "A run with the name 'x-0' already exists."
            )
    except flyte.errors.RuntimeUserError as exc:
        return exc


def test_already_exists_is_recognised_in_either_form() -> None:
    assert is_already_exists(ConnectError(Code.ALREADY_EXISTS, "exists"))
    assert is_already_exists(_flyte_already_exists())
    assert not is_already_exists(ConnectError(Code.PERMISSION_DENIED, "no"))
    assert not is_already_exists(RuntimeError("already exists, says the message only"))


def test_not_found_is_recognised() -> None:
    assert is_not_found(ConnectError(Code.NOT_FOUND, "run 'x' not found"))
    assert not is_not_found(ConnectError(Code.UNAVAILABLE, "down"))


def test_a_run_is_ours_only_with_both_labels_of_this_sweep_and_job() -> None:
    labels = {"hydra-flyte-sweep": "hf-1", "hydra-flyte-job": "3", "team": "ml"}
    assert is_ours(labels, sweep_id="hf-1", job_num=3)
    assert not is_ours(labels, sweep_id="hf-2", job_num=3)
    assert not is_ours(labels, sweep_id="hf-1", job_num=4)
    assert not is_ours({"team": "ml"}, sweep_id="hf-1", job_num=3)
    assert not is_ours(labels, sweep_id=None, job_num=3)


def test_the_clash_names_the_run_the_owner_its_manifest_and_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    earlier = Manifest.create(tmp_path / "A", sweep_id="hf-0000aaaa")
    earlier.plan([(0, ["x=1"], "nightly-0")])
    clash = name_clash(
        "nightly-0",
        {"hydra-flyte-sweep": "hf-0000aaaa", "hydra-flyte-job": "0"},
        sweep_id="hf-0000bbbb",
        job_num=0,
    )
    text = str(clash)
    assert "'nightly-0'" in text and "job 0 of sweep hf-0000aaaa" in text
    assert str(earlier.path.resolve()) in text, "where the earlier sweep's manifest is"
    assert "sweep hf-0000bbbb did not submit it" in text and "Choose another run name" in text
    assert clash.owner_sweep == "hf-0000aaaa" and clash.run_name == "nightly-0"
    foreign = name_clash("nightly-0", {}, sweep_id="hf-0000bbbb", job_num=0)
    assert "not part of any hydra-flyte sweep" in str(foreign) and foreign.owner_sweep is None


@pytest.mark.parametrize(
    ("error", "phase"),
    [
        (NotSubmittedError("not submitted"), "NOT_SUBMITTED"),
        (ConnectError(Code.UNAVAILABLE, "down"), "PLANNED"),  # a run may exist: status looks it up
        (ConnectionRefusedError("refused"), "PLANNED"),
        (ConnectError(Code.PERMISSION_DENIED, "no"), "SUBMIT_FAILED"),
        (ConnectError(Code.INVALID_ARGUMENT, "bad"), "SUBMIT_FAILED"),
        (name_clash("x-0", {}, sweep_id="hf-1", job_num=0), "SUBMIT_FAILED"),
    ],
)
def test_what_a_failed_submission_leaves_the_record_in(error: BaseException, phase: str) -> None:
    assert submission_failure_phase(error) == phase


def test_a_halted_pool_submits_nothing_more_and_says_why() -> None:
    started: list[str] = []
    gate = threading.Event()

    def first() -> str:
        gate.wait(5)
        started.append("first")
        return "run-0"

    with SubmissionPool(max_workers=1) as pool:
        pending = pool.submit(first, label="0", on_submitted=lambda run: None)
        later = pool.submit(
            lambda: started.append("later") or "run-1", label="1", on_submitted=lambda run: None
        )
        pool.halt(name_clash("x-0", {}, sweep_id="hf-1", job_num=0))
        pool.halt(RuntimeError("a second reason is ignored"))
        gate.set()
        assert pending.result() == "run-0", "a submission under way finishes"
        with pytest.raises(NotSubmittedError, match=r"run name clash of 'x-0'"):
            later.result()
    assert started == ["first"]


# -- an OK answer is checked too (the open-source control plane answers a taken name OK) ---------


class _Answered:
    """A run as flyte.run returns it: the CreateRun answer's labels in `pb2`, GetRunDetails behind `details()`."""

    def __init__(self, name: str, carried: dict[str, str], stored: dict[str, str] | None = None) -> None:
        from flyteidl2.workflow import run_definition_pb2

        self.name = name
        self.pb2 = run_definition_pb2.Run()
        self.pb2.labels.update(carried)
        self._stored = carried if stored is None else stored
        self.details_calls = 0

    def details(self):  # noqa: ANN201 - RunDetails-like
        from flyteidl2.task import run_pb2

        self.details_calls += 1
        spec = run_pb2.RunSpec()
        spec.labels.values.update(self._stored)

        class _Details:
            pb2 = type("pb2", (), {"run_spec": spec})

        return _Details()


def test_an_ok_answer_carrying_this_jobs_labels_is_kept_without_another_request() -> None:
    from hydra_flyte.remote.ownership import confirm_created

    run = _Answered("x-3", {"hydra-flyte-sweep": "hf-1", "hydra-flyte-job": "3"})
    assert confirm_created(run, sweep_id="hf-1", job_num=3, token=None) is run
    assert run.details_calls == 0, "the happy path costs no GetRunDetails"


def test_an_ok_answer_with_another_runs_labels_is_a_clash() -> None:
    from hydra_flyte.errors import RunNameClashError
    from hydra_flyte.remote.ownership import confirm_created

    other_sweep = _Answered("exp-1", {"hydra-flyte-sweep": "hf-9", "hydra-flyte-job": "1"})
    with pytest.raises(RunNameClashError, match=r"'exp-1' \(job 1\) is already taken .* job 1 of sweep hf-9"):
        confirm_created(other_sweep, sweep_id="hf-1", job_num=1, token=None)
    single = _Answered("exp-1", {"hydra-flyte-submission": "aaaa"})
    with pytest.raises(RunNameClashError, match="not part of any hydra-flyte sweep"):
        confirm_created(single, sweep_id="hf-1", job_num=1, token=None)
    with pytest.raises(RunNameClashError, match="this run did not submit it"):
        confirm_created(single, sweep_id=None, job_num=None, token="bbbb")
    assert confirm_created(single, sweep_id=None, job_num=None, token="aaaa") is single


def test_an_answer_without_labels_is_looked_up_once() -> None:
    from hydra_flyte.errors import RunNameClashError
    from hydra_flyte.remote.ownership import confirm_created

    ours = _Answered("x-0", {}, stored={"hydra-flyte-sweep": "hf-1", "hydra-flyte-job": "0"})
    assert confirm_created(ours, sweep_id="hf-1", job_num=0, token=None) is ours
    assert ours.details_calls == 1
    foreign = _Answered("x-0", {}, stored={})
    with pytest.raises(RunNameClashError):
        confirm_created(foreign, sweep_id="hf-1", job_num=0, token=None)
