"""The rules each loopback profile enforces, as the real control planes do, driven by the real `flyte` SDK.

Each test names the profile it is about and runs against a control plane of that profile (the
session's, or a second one for this module), whatever $LOOPBACK_PROFILE says. The sources each
rule comes from are cited in flyte_loopback/rules.py and services.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flyte
import flyte.errors
import loopback_resume_tasks as resume_tasks
import loopback_tasks as tasks
import pytest
from conftest import init_flyte_for, wait_until
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyte.remote import Run
from flyte_loopback import ControlPlane
from flyte_loopback._sdk_private import restored_flyte_init
from flyteidl2.actions import actions_service_connect, actions_service_pb2
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.dataproxy import dataproxy_service_connect, dataproxy_service_pb2
from flyteidl2.workflow import queue_service_connect, run_service_connect, run_service_pb2

pytestmark = pytest.mark.slow


def _remote(**kwargs: object):
    """`flyte.with_runcontext(mode="remote", ...)`."""
    return flyte.with_runcontext(mode="remote", **kwargs)  # type: ignore[arg-type]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def _client(cp: ControlPlane, project: str | None = None) -> Iterator[ControlPlane]:
    """`flyte.init()` against `cp` (optionally in another project), reset before and after, undone after."""
    cp.reset()
    saved = cp.project
    try:
        if project is not None:
            cp.project = project
        with restored_flyte_init():
            init_flyte_for(cp)
            yield cp
    finally:
        cp.project = saved
        cp.reset()


@pytest.fixture
def oss(cp_open_source: ControlPlane) -> Iterator[ControlPlane]:
    """The SDK pointed at an open-source-profile control plane."""
    with _client(cp_open_source) as cp:
        yield cp


@pytest.fixture
def hosted(cp_hosted: ControlPlane) -> Iterator[ControlPlane]:
    """The SDK pointed at a hosted-profile control plane."""
    with _client(cp_hosted) as cp:
        yield cp


@pytest.fixture(params=["open-source", "hosted"])
def either(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """The SDK pointed at a control plane of each profile in turn."""
    fixture = "cp_open_source" if request.param == "open-source" else "cp_hosted"
    with _client(request.getfixturevalue(fixture)) as cp:
        yield cp


def _run_id(cp: ControlPlane, name: str, project: str | None = None) -> identifier_pb2.RunIdentifier:
    return identifier_pb2.RunIdentifier(
        org=cp.org, project=project or cp.project, domain=cp.domain, name=name
    )


def _errors(cp: ControlPlane, method: str) -> list[Code | None]:
    return [r.error for r in cp.requests.of(method)]


# ---------------------------------------------------------------- open-source: run names


def test_open_source_refuses_a_run_name_over_30_characters(oss: ControlPlane) -> None:
    """validateRunName: more than 30 characters is INVALID_ARGUMENT with the backend's text; nothing is created."""
    name = "a" * 31
    with pytest.raises(flyte.errors.RuntimeUserError) as info:
        _remote(name=name).run(tasks.add, 1, 1)
    assert f'invalid run name "{name}": must be no more than 30 characters' in str(info.value)
    assert _errors(oss, "CreateRun") == [Code.INVALID_ARGUMENT]
    assert name not in oss.runs and oss.requests.created_runs() == []


@pytest.mark.parametrize("name", ["Upper-case", "9starts-with-digit", "ends-with-dash-", "under_score"])
def test_open_source_refuses_a_run_name_that_is_no_dns1035_label(oss: ControlPlane, name: str) -> None:
    """validateRunName: IsDNS1035Label's text, INVALID_ARGUMENT."""
    with pytest.raises(flyte.errors.RuntimeUserError) as info:
        _remote(name=name).run(tasks.add, 1, 1)
    assert f'invalid run name "{name}": a DNS-1035 label must consist of lower case alphanumeric' in str(
        info.value
    )
    assert "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'" in str(info.value)
    assert name not in oss.runs


def test_open_source_accepts_a_30_character_dns1035_name(oss: ControlPlane) -> None:
    """The limit is inclusive: 30 characters of [a-z0-9-] starting with a letter are fine."""
    oss.faults.set_record_only("queued")
    name = "n" + uuid.uuid4().hex[:29]
    assert _remote(name=name).run(tasks.add, 1, 1).name == name
    assert oss.runs[name].phase == "QUEUED"


# ---------------------------------------------------------------- open-source: taken names


def test_open_source_answers_a_taken_name_ok_with_the_existing_run(oss: ControlPlane) -> None:
    """ON CONFLICT DO NOTHING: the second CreateRun is OK and carries the first run; nothing new runs."""
    oss.faults.set_record_only("queued")
    name = _unique("taken")
    first = _remote(name=name, labels={"owner": "first"}).run(tasks.add, 1, 1)
    second = _remote(name=name, labels={"owner": "second"}).run(tasks.add, 40, 2)

    assert first.name == second.name == name
    assert dict(second.pb2.labels) == {"owner": "first"}  # the reply is the existing run, labels and all
    assert _errors(oss, "CreateRun") == [None, None]
    assert [r.name for r in oss.requests.created_runs()] == [name]
    assert oss.requests.adopted_runs() == [name]
    run = oss.runs[name]
    assert run.labels == {"owner": "first"}
    assert {n.name: n.value.scalar.primitive.integer for n in run.inputs.literals} == {"x": 1, "y": 1}
    assert list(run.actions) == ["a0"] and run.root.process is None


def test_open_source_keeps_a_finished_run_s_name_reserved(oss: ControlPlane) -> None:
    """Names are reserved for good: reusing a finished run's name answers OK with that finished run."""
    name = _unique("finished")
    done = _remote(name=name).run(tasks.add, 2, 3)
    done.wait(quiet=True)
    assert done.outputs()[0] == 5

    again = _remote(name=name).run(tasks.add, 100, 100)
    assert again.name == name
    again.wait(quiet=True)  # already finished: the existing run, not a new one
    assert again.outputs()[0] == 5
    assert [r.name for r in oss.requests.created_runs()] == [name]
    assert oss.requests.adopted_runs() == [name]


# ---------------------------------------------------------------- open-source: projects


def test_open_source_refuses_a_project_that_does_not_exist(cp_open_source: ControlPlane) -> None:
    """validateProjectExists: NOT_FOUND `project "p" not found`; once the project exists, runs go through."""
    ghost = _unique("ghost-project")
    with _client(cp_open_source, project=ghost) as cp:
        with pytest.raises(Exception, match=f'project "{ghost}" not found'):
            _remote().run(tasks.add, 1, 1)
        assert cp.runs.values() == [] or all(r.project != ghost for r in cp.runs.values())
        assert Code.NOT_FOUND in [r.error for r in cp.requests.all() if r.error is not None]

        cp.add_project(ghost)
        cp.faults.set_record_only("queued")
        run = _remote().run(tasks.add, 1, 1)
        assert cp.runs[run.name].project == ghost


def test_open_source_checks_the_project_on_upload_inputs_and_create_run(oss: ControlPlane) -> None:
    """Both RPCs check the project (dataproxy_service.go UploadInputs, run_service.go CreateRun); not the domain."""
    oss.faults.set_record_only("queued")
    template = _remote(name=_unique("template")).run(tasks.add, 1, 1)
    spec = oss.requests.created_run(template.name).request.task_spec
    ghost = _unique("ghost")

    upload = dataproxy_service_connect.DataProxyServiceClientSync(oss.endpoint)
    with pytest.raises(ConnectError) as info:
        upload.upload_inputs(
            dataproxy_service_pb2.UploadInputsRequest(
                run_id=_run_id(oss, "r1", project=ghost), task_spec=spec
            )
        )
    assert (info.value.code, info.value.message) == (Code.NOT_FOUND, f'project "{ghost}" not found')

    runs = run_service_connect.RunServiceClientSync(oss.endpoint)
    with pytest.raises(ConnectError) as info:
        runs.create_run(
            run_service_pb2.CreateRunRequest(run_id=_run_id(oss, "r1", project=ghost), task_spec=spec)
        )
    assert (info.value.code, info.value.message) == (Code.NOT_FOUND, f'project "{ghost}" not found')

    other_domain = identifier_pb2.RunIdentifier(
        org=oss.org, project=oss.project, domain="any-domain", name="rdomain"
    )
    runs.create_run(run_service_pb2.CreateRunRequest(run_id=other_domain, task_spec=spec))
    assert oss.runs["rdomain"].domain == "any-domain"


# ---------------------------------------------------------------- open-source: labels and annotations


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"team": "has space"}, {}),
        ({"team": "v" * 64}, {}),
        ({"team": "-leading-dash"}, {}),
        ({"bad key!": "v"}, {}),
        ({"Not_A.Subdomain/key": "v"}, {}),
        ({"k" * 64: "v"}, {}),
        ({}, {"bad key!": "v"}),
    ],
)
def test_open_source_leaves_a_run_with_labels_kubernetes_refuses_queued(
    oss: ControlPlane, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    """The TaskAction's Create fails and is only logged: CreateRun is OK, the run stays QUEUED; abort works."""
    run = _remote(labels=labels, annotations=annotations).run(tasks.add, 1, 1)
    state = oss.runs[run.name]
    assert _errors(oss, "CreateRun") == [None]
    assert state.root.stuck_reason is not None and "Kubernetes refused" in state.root.stuck_reason
    with pytest.raises(TimeoutError):
        oss.wait_for_phase(run.name, ["INITIALIZING", "RUNNING", "SUCCEEDED", "FAILED"], timeout=2.0)
    assert state.phase == "QUEUED" and state.root.process is None

    run.abort(reason="stuck")
    assert oss.wait_for_phase(run.name, ["ABORTED"]).phase == "ABORTED"


def test_open_source_runs_labels_kubernetes_accepts(oss: ControlPlane) -> None:
    """Empty values, dotted values and a DNS-subdomain key prefix are fine: the run executes."""
    labels = {"example.com/team": "a.b_c-d", "empty": "", "k" * 63: "v" * 63}
    run = _remote(labels=labels).run(tasks.add, 2, 2)
    run.wait(quiet=True)
    assert run.outputs()[0] == 4
    assert oss.runs[run.name].root.stuck_reason is None


# ---------------------------------------------------------------- open-source: ListRuns


def test_open_source_list_runs_limits_pages_and_filters(cp_open_source: ControlPlane) -> None:
    """Default limit 50, at most 200, the page token is an offset, filters only on allow-listed columns."""
    project = _unique("listing")  # a project of its own: earlier tests' runs stay in the store
    cp_open_source.add_project(project)
    with _client(cp_open_source, project=project) as oss:
        _check_list_runs(oss)


def _check_list_runs(oss: ControlPlane) -> None:
    oss.faults.set_record_only("queued")
    template = _remote(name=_unique("list")).run(tasks.add, 1, 1)
    spec = oss.requests.created_run(template.name).request.task_spec
    runs = run_service_connect.RunServiceClientSync(oss.endpoint)
    prefix = f"l{uuid.uuid4().hex[:6]}"
    for i in range(54):
        runs.create_run(
            run_service_pb2.CreateRunRequest(run_id=_run_id(oss, f"{prefix}-{i}"), task_spec=spec)
        )

    def list_runs(**request: object) -> run_service_pb2.ListRunsResponse:
        return runs.list_runs(
            run_service_pb2.ListRunsRequest(
                org=oss.org,
                project_id=identifier_pb2.ProjectIdentifier(
                    organization=oss.org, name=oss.project, domain=oss.domain
                ),
                request=list_pb2.ListRequest(**request),  # type: ignore[arg-type]
            )
        )

    first = list_runs()
    assert (len(first.runs), first.token) == (50, "50")
    rest = list_runs(token=first.token)
    assert (len(rest.runs), rest.token) == (5, "")
    assert {r.action.id.run.name for r in [*first.runs, *rest.runs]} == {template.name} | {
        f"{prefix}-{i}" for i in range(54)
    }
    assert len(list_runs(limit=200).runs) == 55

    with pytest.raises(ConnectError) as info:
        list_runs(limit=201)
    assert (info.value.code, info.value.message) == (
        Code.INVALID_ARGUMENT,
        "invalid limit: 201 (exceeds maximum of 200)",
    )
    with pytest.raises(ConnectError) as info:
        list_runs(token="not-an-offset")
    assert info.value.code == Code.INVALID_ARGUMENT and info.value.message == 'invalid token: "not-an-offset"'

    with pytest.raises(ConnectError) as info:
        list(Run.listall(with_labels={"team": "x"}))
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == "failed to convert filters: invalid filter field: labels.team"
    named = list(Run.listall(task_name=spec.task_template.id.name, limit=1000))
    assert len(named) == 55


# ---------------------------------------------------------------- open-source: child actions


def test_open_source_children_go_through_actions_service(oss: ControlPlane) -> None:
    """Tasks get _U_USE_ACTIONS=1; Queue/StateService are not served; a known child id is INTERNAL there."""
    run = _remote().run(tasks.pipeline, 2)
    run.wait(quiet=True)
    assert run.outputs()[0] == (2 + 1) + 2 * 2
    methods = oss.requests.methods()
    assert methods.count("ActionsService/Enqueue") == 2 and "ActionsService/WatchForUpdates" in methods
    assert not any(m.startswith(("QueueService/", "StateService/")) for m in methods)

    enqueue = oss.requests.of("ActionsService/Enqueue")[0].request
    child = oss.runs[run.name].actions[enqueue.action.action_id.name]
    with pytest.raises(ConnectError) as info:
        actions_service_connect.ActionsServiceClientSync(oss.endpoint).enqueue(enqueue)
    assert info.value.code == Code.INTERNAL and "already exists" in info.value.message
    assert oss.runs[run.name].actions[child.name] is child and child.phase_name == "SUCCEEDED"

    queue = queue_service_connect.QueueServiceClientSync(oss.endpoint)
    with pytest.raises(ConnectError) as info:
        queue.enqueue_action(actions_to_queue(enqueue.action))
    assert info.value.code == Code.UNIMPLEMENTED


def actions_to_queue(action: actions_service_pb2.Action):
    """The QueueService/EnqueueAction request carrying the same child as an actions.Action."""
    from flyteidl2.workflow import queue_service_pb2

    return queue_service_pb2.EnqueueActionRequest(
        action_id=action.action_id,
        parent_action_name=action.parent_action_name,
        input_uri=action.input_uri,
        run_output_base=action.run_output_base,
        task=action.task,
    )


# ---------------------------------------------------------------- hosted


def test_hosted_refuses_a_long_run_name_with_protovalidate_s_text(hosted: ControlPlane) -> None:
    """RunIdentifier.name max_len 30, checked on UploadInputs (the SDK's first call naming the run)."""
    name = "a" * 31
    with pytest.raises(flyte.errors.BaseRuntimeError) as info:
        _remote(name=name).run(tasks.add, 1, 1)
    assert "validation error:\n - run_id.name: " in str(info.value)
    assert "[string.max_len]" in str(info.value)
    refused = [r for r in hosted.requests.all() if r.error is not None]
    assert [r.method for r in refused] == ["DataProxyService/UploadInputs"]
    assert refused[0].error == Code.INVALID_ARGUMENT
    assert name not in hosted.runs


def test_hosted_validates_every_request_with_violation_details(hosted: ControlPlane) -> None:
    """GetRunDetails, AbortRun, CreateRun, EnqueueAction: buf.validate rules, a Violations detail attached."""
    from buf.validate import validate_pb2

    runs = run_service_connect.RunServiceClientSync(hosted.endpoint)
    with pytest.raises(ConnectError) as info:
        runs.get_run_details(run_service_pb2.GetRunDetailsRequest())
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == "validation error:\n - run_id: value is required [required]"
    violations = validate_pb2.Violations()
    assert [d.Unpack(violations) for d in info.value.details] == [True]
    assert [(v.rule_id, [e.field_name for e in v.field.elements]) for v in violations.violations] == [
        ("required", ["run_id"])
    ]

    with pytest.raises(ConnectError) as info:
        runs.abort_run(run_service_pb2.AbortRunRequest())
    assert info.value.message.startswith("validation error:\n - run_id: ")

    with pytest.raises(ConnectError) as info:
        runs.create_run(run_service_pb2.CreateRunRequest(run_id=_run_id(hosted, "")))
    assert " - run_id.name: " in info.value.message and " - task: " in info.value.message

    from flyteidl2.workflow import queue_service_pb2

    queue = queue_service_connect.QueueServiceClientSync(hosted.endpoint)
    with pytest.raises(ConnectError) as info:
        queue.enqueue_action(queue_service_pb2.EnqueueActionRequest())
    assert (
        info.value.code == Code.INVALID_ARGUMENT and " - action_id: value is required" in info.value.message
    )
    assert all(r.error == Code.INVALID_ARGUMENT for r in hosted.requests.all())


def test_hosted_answers_a_taken_name_already_exists(hosted: ControlPlane) -> None:
    """ALREADY_EXISTS, which the SDK raises as RunAlreadyExistsError; the first run is untouched."""
    hosted.faults.set_record_only("queued")
    name = _unique("taken")
    _remote(name=name, labels={"owner": "first"}).run(tasks.add, 1, 1)
    with pytest.raises(flyte.errors.RuntimeUserError, match="already exists"):
        _remote(name=name, labels={"owner": "second"}).run(tasks.add, 1, 1)
    assert _errors(hosted, "CreateRun") == [None, Code.ALREADY_EXISTS]
    assert hosted.runs[name].labels == {"owner": "first"}


def test_hosted_checks_only_the_proto_rules(cp_hosted: ControlPlane) -> None:
    """No DNS-1035 rule, no project check, labels not checked: a name with '_' in an unknown project runs."""
    with _client(cp_hosted, project=_unique("unknown-project")) as cp:
        run = _remote(name="Mixed_Case_Name-" + uuid.uuid4().hex[:6], labels={"bad key!": "has space"}).run(
            tasks.add, 3, 4
        )
        run.wait(quiet=True)
        assert run.outputs()[0] == 7
        assert [r.labels for r in [cp.runs[run.name]]] == [{"bad key!": "has space"}]


def test_hosted_lists_runs_by_label(hosted: ControlPlane) -> None:
    """A hosted control plane filters on `labels.<key>` (the SDK's with_labels)."""
    hosted.faults.set_record_only("queued")
    label = _unique("team")
    tagged = _remote(labels={"team": label}).run(tasks.add, 1, 1)
    _remote(labels={"team": "other"}).run(tasks.add, 1, 1)
    assert [r.name for r in Run.listall(with_labels={"team": label})] == [tagged.name]


def test_hosted_known_child_id_is_already_exists_and_left_as_it_stands(hosted: ControlPlane) -> None:
    """QueueService/EnqueueAction for an existing child: ALREADY_EXISTS, the child unchanged."""
    run = _remote().run(tasks.pipeline, 2)
    run.wait(quiet=True)
    enqueue = hosted.requests.of("QueueService/EnqueueAction")[0].request
    child = hosted.runs[run.name].actions[enqueue.action_id.name]
    with pytest.raises(ConnectError) as info:
        queue_service_connect.QueueServiceClientSync(hosted.endpoint).enqueue_action(enqueue)
    assert info.value.code == Code.ALREADY_EXISTS
    assert hosted.runs[run.name].actions[child.name] is child and child.phase_name == "SUCCEEDED"
    assert child.attempt == 1 and len(hosted.runs[run.name].children()) == 2


# ---------------------------------------------------------------- both: quotas


def test_run_quota_answers_resource_exhausted_and_creates_nothing(either: ControlPlane) -> None:
    """Past N unfinished runs CreateRun is RESOURCE_EXHAUSTED (RunCreationError in the SDK); reset clears it."""
    either.faults.set_record_only("queued")
    either.faults.set_run_quota(1)
    kept = _remote().run(tasks.add, 1, 1)
    with pytest.raises(flyte.errors.RuntimeSystemError, match="quota exceeded"):
        _remote().run(tasks.add, 2, 2)
    assert _errors(either, "CreateRun") == [None, Code.RESOURCE_EXHAUSTED]
    assert [r.name for r in either.requests.created_runs()] == [kept.name]

    either.mark_succeeded(kept.name)  # finished runs do not count
    _remote().run(tasks.add, 3, 3)
    either.reset()  # clears the quota (and aborts what is unfinished)
    either.faults.set_record_only("queued")
    _remote().run(tasks.add, 4, 4)
    _remote().run(tasks.add, 5, 5)
    assert len(either.requests.created_runs()) == 2


def test_action_quota_is_retried_by_the_parent(either: ControlPlane) -> None:
    """Past N unfinished children enqueueing is RESOURCE_EXHAUSTED; the SDK backs off and retries: same result."""
    either.faults.set_action_quota(1)
    run = _remote().run(tasks.pipeline, 3)
    run.wait(quiet=True)
    assert run.outputs()[0] == (3 + 1) + 3 * 3
    method = "ActionsService/Enqueue" if either.profile == "open-source" else "QueueService/EnqueueAction"
    codes = _errors(either, method)
    assert Code.RESOURCE_EXHAUSTED in codes and codes.count(None) == 2


# ---------------------------------------------------------------- both: a parent lost and run again


def test_evicted_parent_is_run_again_and_its_children_run_once(either: ControlPlane, tmp_path: Path) -> None:
    """Kill the parent after some children finished: attempt 2 reuses them (watch snapshot) and succeeds.

    Children keep running while the parent is gone, the new attempt sees every existing child before
    its sentinel, so each child runs exactly once, and the parent's output is right.
    """
    ledger = tmp_path / "ledger.txt"
    n = 6
    run = _remote().run(resume_tasks.fan_out, n, 1.5, str(ledger))
    state = either.wait_for_phase(run.name, ["RUNNING"])

    def finished() -> int:
        return sum(1 for c in state.children("a0") if c.phase_name == "SUCCEEDED")

    wait_until(lambda: finished() >= 2, timeout=120)
    either.evict(run.name)
    run.wait(quiet=True)

    assert run.outputs()[0] == sum(x * x for x in range(n))
    root = state.root
    assert (root.attempt, [p.attempt for p in root.past_attempts]) == (2, [1])
    assert root.output_prefix.endswith("/a0/2") and (Path(root.output_prefix) / "outputs.pb").is_file()
    children = state.children("a0")
    assert len(children) == n and all(c.attempt == 1 and c.phase_name == "SUCCEEDED" for c in children)
    assert sorted(int(x) for x in ledger.read_text().split()) == list(range(n))
    # The new attempt learnt of every existing child from its watch's snapshot and re-enqueued none.
    assert len(either.requests.enqueued_actions(run.name)) == n

    details = run_service_connect.RunServiceClientSync(either.endpoint).get_run_details(
        run_service_pb2.GetRunDetailsRequest(run_id=_run_id(either, run.name))
    )
    assert [a.attempt for a in details.details.action.attempts] == [1, 2]
    assert details.details.action.status.attempts == 2
