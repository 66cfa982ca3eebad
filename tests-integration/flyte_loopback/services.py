"""Connect service implementations (run, task, data proxy, cluster, queue, state) over the run store."""

from __future__ import annotations

import hashlib
import inspect
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.actions import actions_service_connect, actions_service_pb2
from flyteidl2.cluster import payload_pb2 as cluster_pb2
from flyteidl2.cluster import service_connect as cluster_connect
from flyteidl2.common import identifier_pb2, list_pb2
from flyteidl2.dataproxy import dataproxy_service_connect as dataproxy_connect
from flyteidl2.dataproxy import dataproxy_service_pb2 as dp_pb2
from flyteidl2.logs.dataplane import payload_pb2 as logs_pb2
from flyteidl2.task import common_pb2, task_definition_pb2, task_service_connect, task_service_pb2
from flyteidl2.workflow import (
    queue_service_connect,
    queue_service_pb2,
    run_definition_pb2,
    run_service_connect,
    run_service_pb2,
    state_service_connect,
    state_service_pb2,
)
from google.protobuf.timestamp_pb2 import Timestamp

from . import rules
from .executor import Executor
from .faults import Faults
from .recorder import mark_created
from .rules import Profile
from .runs import ABORTED, FAILED, Action, Run, RunStore

_KIND_TO_ERROR_INFO = {1: run_definition_pb2.ErrorInfo.KIND_USER, 2: run_definition_pb2.ErrorInfo.KIND_SYSTEM}
_POLL_SECONDS = 1.0


@dataclass
class ServerContext:
    """What every service needs: the store, the executor, the state directory and defaults."""

    store: RunStore
    executor: Executor
    state_dir: Path
    default_org: str
    endpoint: Callable[[], str]
    closing: Callable[[], bool]
    faults: Faults
    profile: Profile
    # Projects that exist (the open-source backend's validateProjectExists asks its ProjectService).
    projects: set[str]

    #: Deployed tasks (TaskService/DeployTask), in deployment order.
    tasks: list[task_definition_pb2.TaskDetails] = field(default_factory=list)

    def deployed(self, task_id: task_definition_pb2.TaskIdentifier) -> task_definition_pb2.TaskDetails:
        """The deployed task with this id (org aside: the SDK leaves it empty), or NOT_FOUND."""
        for details in self.tasks:
            found = details.task_id
            if (found.project, found.domain, found.name, found.version) == (
                task_id.project,
                task_id.domain,
                task_id.name,
                task_id.version,
            ):
                return details
        raise ConnectError(Code.NOT_FOUND, f"task {task_id.name!r} version {task_id.version!r} not found")

    @property
    def open_source(self) -> bool:
        """Whether this control plane behaves as the open-source backend."""
        return self.profile == "open-source"

    def check_project(self, project: str) -> None:
        """Open-source: NOT_FOUND unless the project exists (the domain is not checked)."""
        if self.open_source and project not in self.projects:
            raise rules.project_not_found(project)

    def unfinished_children(self) -> int:
        """Child task actions of every run that are not terminal."""
        return sum(1 for run in self.store.values() for a in run.children() if a.trace is None and not a.done)

    def run(self, run_id: identifier_pb2.RunIdentifier) -> Run:
        """The run named by `run_id`, or NOT_FOUND."""
        run = self.store.get(run_id.name)
        if run is None:
            raise ConnectError(Code.NOT_FOUND, f"run {run_id.name!r} not found")
        return run

    def action(self, action_id: identifier_pb2.ActionIdentifier) -> Action:
        """The action named by `action_id`, or NOT_FOUND."""
        run = self.run(action_id.run)
        action = run.actions.get(action_id.name or "a0")
        if action is None:
            raise ConnectError(Code.NOT_FOUND, f"action {action_id.name!r} of run {run.name!r} not found")
        return action


class _Unimplemented:
    """Answers UNIMPLEMENTED for every method of `_protocol` a subclass does not define."""

    _protocol: type

    def __getattr__(self, name: str) -> Any:
        declared = getattr(self._protocol, name, None)
        if declared is None or name.startswith("_"):
            raise AttributeError(name)
        message = f"{self._protocol.__name__}.{name} is not implemented by the loopback control plane"

        if inspect.iscoroutinefunction(declared):

            async def unary(request: Any, ctx: RequestContext) -> Any:
                raise ConnectError(Code.UNIMPLEMENTED, message)

            return unary

        async def stream(request: Any, ctx: RequestContext) -> AsyncIterator[Any]:
            raise ConnectError(Code.UNIMPLEMENTED, message)
            yield  # pragma: no cover - makes this an async generator

        return stream


# ---------------------------------------------------------------- protobuf views of the state


def _ts(value: Any) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _run_id(run: Run) -> identifier_pb2.RunIdentifier:
    return identifier_pb2.RunIdentifier(org=run.org, project=run.project, domain=run.domain, name=run.name)


def action_id(action: Action) -> identifier_pb2.ActionIdentifier:
    """The ActionIdentifier of an action."""
    return identifier_pb2.ActionIdentifier(run=_run_id(action.run), name=action.name)


def _metadata(action: Action) -> run_definition_pb2.ActionMetadata:
    md = run_definition_pb2.ActionMetadata(parent=action.parent, group=action.group)
    if action.task_spec is not None:
        tid = action.task_spec.task_template.id
        md.task.CopyFrom(
            run_definition_pb2.TaskActionMetadata(
                id=task_definition_pb2.TaskIdentifier(
                    org=tid.org, project=tid.project, domain=tid.domain, name=tid.name, version=tid.version
                ),
                task_type=action.task_spec.task_template.type,
                short_name=action.task_spec.short_name,
            )
        )
    elif action.trace is not None:
        md.trace.CopyFrom(run_definition_pb2.TraceActionMetadata(name=action.trace.name))
    return md


def _status(action: Action) -> run_definition_pb2.ActionStatus:
    status = run_definition_pb2.ActionStatus(
        phase=action.phase, attempts=action.attempt, start_time=_ts(action.created_at)
    )
    if action.ended_at is not None:
        status.end_time.CopyFrom(_ts(action.ended_at))
        status.duration_ms = int((action.ended_at - action.created_at).total_seconds() * 1000)
    return status


def _error_info(action: Action) -> run_definition_pb2.ErrorInfo | None:
    if action.phase != FAILED or action.error is None:
        return None
    return run_definition_pb2.ErrorInfo(
        message=action.error.message,
        code=action.error.code,
        kind=_KIND_TO_ERROR_INFO.get(action.error.kind, run_definition_pb2.ErrorInfo.KIND_UNSPECIFIED),
    )


def action_proto(action: Action) -> run_definition_pb2.Action:
    """The list view of an action."""
    return run_definition_pb2.Action(id=action_id(action), metadata=_metadata(action), status=_status(action))


def action_details(action: Action) -> run_definition_pb2.ActionDetails:
    """The detailed view of an action, with its error, abort reason and every attempt."""
    details = run_definition_pb2.ActionDetails(
        id=action_id(action), metadata=_metadata(action), status=_status(action)
    )
    if action.task_spec is not None:
        details.task.CopyFrom(action.task_spec)
    elif action.trace is not None and action.trace.HasField("spec"):
        details.trace.CopyFrom(action.trace.spec)
    info = _error_info(action)
    if info is not None:
        details.error_info.CopyFrom(info)
    elif action.phase == ABORTED:
        details.abort_info.CopyFrom(run_definition_pb2.AbortInfo(reason=action.abort_reason or ""))
    for past in action.past_attempts:
        details.attempts.append(
            run_definition_pb2.ActionAttempt(
                phase=FAILED,
                attempt=past.attempt,
                start_time=_ts(past.started_at),
                end_time=_ts(past.ended_at),
                outputs=common_pb2.OutputReferences(output_uri=past.output_prefix),
                error_info=run_definition_pb2.ErrorInfo(
                    message=past.error.message,
                    code=past.error.code,
                    kind=run_definition_pb2.ErrorInfo.KIND_SYSTEM,
                ),
            )
        )
    attempt = run_definition_pb2.ActionAttempt(
        phase=action.phase,
        attempt=action.attempt,
        start_time=_ts(action.started_at or action.created_at),
        logs_available=action.logs_available,
        outputs=common_pb2.OutputReferences(output_uri=action.output_prefix),
    )
    if action.ended_at is not None:
        attempt.end_time.CopyFrom(_ts(action.ended_at))
    if info is not None:
        attempt.error_info.CopyFrom(info)
    details.attempts.append(attempt)
    return details


def run_proto(run: Run) -> run_definition_pb2.Run:
    """The list view of a run."""
    proto = run_definition_pb2.Run(action=action_proto(run.root))
    proto.labels.update(run.labels)
    return proto


# ---------------------------------------------------------------- list filters


def _field_value(run: Run, action: Action, name: str) -> str | None:
    """The value a list filter on `name` compares with (None: the run has no such field)."""
    if name == "phase":
        return str(action.phase)
    if name in ("task_name", "function_name"):
        return action.task_name
    if name == "task_version" and action.task_spec is not None:
        return action.task_spec.task_template.id.version
    if name in ("project", "task_project"):
        return run.project
    if name in ("domain", "task_domain"):
        return run.domain
    if name == "run_name":
        return run.name
    if name.startswith("labels."):
        return run.labels.get(name.removeprefix("labels."))
    return None


def _sort_key(run: Run, key: str) -> Any:
    if key == "phase":
        return run.root.phase
    if key == "run_name":
        return run.name
    if key in ("task_name", "function_name"):
        return run.root.task_name
    if key in ("updated_at", "ended_at"):
        return (run.root.ended_at or run.root.started_at or run.created_at).timestamp()
    return run.created_at.timestamp()  # created_at, and the columns the loopback does not track


def _sorted_runs(runs: list[Run], sorts: list[list_pb2.Sort], open_source: bool) -> list[Run]:
    """Runs in the order asked for; unsorted: the open-source default, else newest first."""
    if not sorts:
        if open_source:
            # runs/repository/impl/action.go ListActions: "phase ASC, created_at DESC, run_name DESC".
            runs = sorted(runs, key=lambda r: r.name, reverse=True)
            runs = sorted(runs, key=lambda r: r.created_at, reverse=True)
            return sorted(runs, key=lambda r: r.root.phase)
        return sorted(runs, key=lambda r: r.created_at, reverse=True)
    runs = sorted(runs, key=lambda r: r.name)  # the backend's tiebreaker: run_name ASC
    for sort in reversed(sorts):
        runs = sorted(
            runs, key=lambda r: _sort_key(r, sort.key), reverse=sort.direction == list_pb2.Sort.DESCENDING
        )
    return runs


def _filter_values(flt: list_pb2.Filter) -> list[str]:
    """The filter's values; a single string the SDK passed where a list belongs arrives split into chars."""
    values = list(flt.values)
    if len(values) > 1 and all(len(v) == 1 for v in values):
        return [*values, "".join(values)]
    return values


def _matches(run: Run, action: Action, filters: list[list_pb2.Filter]) -> bool:
    f = list_pb2.Filter
    for flt in filters:
        value = _field_value(run, action, flt.field)
        if flt.function == f.EXISTS:
            ok = value is not None
        elif flt.function == f.NOT_EXISTS:
            ok = value is None
        elif flt.function in (f.EQUAL, f.VALUE_IN):
            ok = value in _filter_values(flt)
        elif flt.function == f.NOT_EQUAL:
            ok = value not in _filter_values(flt)
        else:
            continue  # filters on fields the loopback does not track match everything
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- services


class RunService(_Unimplemented):
    """flyteidl2.workflow.RunService: create, inspect, watch, list and abort runs."""

    _protocol = run_service_connect.RunService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def create_run(self, request: run_service_pb2.CreateRunRequest, ctx: RequestContext) -> Any:
        """Store the run, then queue its root action for execution (what each profile refuses first)."""
        c = self._ctx
        if request.HasField("run_id"):
            rid = request.run_id
            name, org, project, domain = rid.name, rid.org, rid.project, rid.domain
            if c.open_source:
                # runs/service/run_service.go CreateRun: validateRunName for a client-given name only.
                error = rules.run_name_error(name)
                if error is not None:
                    raise error
        else:
            pid = request.project_id
            name, org, project, domain = _server_run_name(), pid.organization, pid.name, pid.domain
        c.check_project(project)  # run_service.go CreateRun: validateProjectExists, after the name
        if request.HasField("task_id"):  # a deployed task, run by reference
            task_spec = c.deployed(request.task_id).spec
        elif request.HasField("task_spec"):
            task_spec = request.task_spec
        else:
            raise ConnectError(
                Code.UNIMPLEMENTED, "the loopback control plane runs task specs and task ids only"
            )
        existing = c.store.get(name)
        if existing is not None:
            if c.open_source:
                # runs/repository/impl/action.go CreateAction: INSERT ... ON CONFLICT DO NOTHING, then
                # "If no rows were affected, the action already exists — fetch and return it"; the root
                # TaskAction CR exists too, so the enqueue fails and is only logged. OK, nothing new.
                return run_service_pb2.CreateRunResponse(run=run_proto(existing))
            raise ConnectError(Code.ALREADY_EXISTS, f"run {name!r} already exists")
        quota = c.faults.run_quota
        if quota is not None and sum(1 for r in c.store.values() if not r.root.done) >= quota:
            raise rules.quota_exhausted("runs", quota)
        if request.HasField("offloaded_input_data"):
            inputs_uri = request.offloaded_input_data.uri
        else:
            inputs_uri = str(_write_inputs(c.state_dir, request.inputs))
        run = Run(
            name=name,
            org=org or c.default_org,
            project=project,
            domain=domain,
            run_spec=request.run_spec,
            base_dir=c.state_dir / "runs" / name,
        )
        root = Action(
            run=run,
            name="a0",
            parent="",
            task_spec=task_spec,
            inputs_uri=inputs_uri,
            output_dir=str(run.base_dir / "a0"),
        )
        run.actions["a0"] = root
        if not c.store.add(run):
            raise ConnectError(Code.ALREADY_EXISTS, f"run {name!r} already exists")
        mark_created()
        run.base_dir.mkdir(parents=True, exist_ok=True)
        if c.open_source:
            # actions/k8s/client.go applyRunSpecToTaskAction puts the run's labels and annotations on
            # the TaskAction CR; Kubernetes refuses the Create, run_service.go only logs "Failed to
            # enqueue root action" and answers OK: the run stays QUEUED for good.
            problems = rules.kubernetes_metadata_errors(
                dict(request.run_spec.labels.values), dict(request.run_spec.annotations.values)
            )
            if problems:
                root.stuck_reason = "Kubernetes refused the TaskAction: " + "; ".join(problems)
        c.store.notify()
        if root.stuck_reason is None:
            c.executor.submit(root)
        return run_service_pb2.CreateRunResponse(run=run_proto(run))

    async def abort_run(self, request: run_service_pb2.AbortRunRequest, ctx: RequestContext) -> Any:
        """Abort the root action (killing its process) and all children."""
        run = self._ctx.run(request.run_id)
        await self._ctx.executor.abort(run.root, request.reason or "aborted")
        return run_service_pb2.AbortRunResponse()

    async def abort_action(self, request: run_service_pb2.AbortActionRequest, ctx: RequestContext) -> Any:
        """Abort one action and its descendants."""
        action = self._ctx.action(request.action_id)
        await self._ctx.executor.abort(action, request.reason or "aborted")
        return run_service_pb2.AbortActionResponse()

    async def get_run_details(
        self, request: run_service_pb2.GetRunDetailsRequest, ctx: RequestContext
    ) -> Any:
        """Run spec plus the root action's details."""
        run = self._ctx.run(request.run_id)
        details = run_definition_pb2.RunDetails(run_spec=run.run_spec, action=action_details(run.root))
        return run_service_pb2.GetRunDetailsResponse(details=details)

    async def get_action_details(
        self, request: run_service_pb2.GetActionDetailsRequest, ctx: RequestContext
    ) -> Any:
        """One action's details, with error_info on failure."""
        return run_service_pb2.GetActionDetailsResponse(
            details=action_details(self._ctx.action(request.action_id))
        )

    async def watch_action_details(
        self, request: run_service_pb2.WatchActionDetailsRequest, ctx: RequestContext
    ) -> AsyncIterator[run_service_pb2.WatchActionDetailsResponse]:
        """Stream an action's details at every phase change until it is terminal."""
        action = self._ctx.action(request.action_id)
        last: tuple[int, bool] | None = None
        while not self._ctx.closing():
            seen = (action.phase, action.logs_available)
            if seen != last:
                last = seen
                yield run_service_pb2.WatchActionDetailsResponse(details=action_details(action))
                if action.done:
                    return
            await self._ctx.store.wait_for_change(_POLL_SECONDS)

    async def list_actions(self, request: run_service_pb2.ListActionsRequest, ctx: RequestContext) -> Any:
        """Actions of a run, filtered by phase etc."""
        run = self._ctx.run(request.run_id)
        filters = list(request.request.filters)
        actions = [action_proto(a) for a in list(run.actions.values()) if _matches(run, a, filters)]
        return run_service_pb2.ListActionsResponse(actions=actions)

    async def list_runs(self, request: run_service_pb2.ListRunsRequest, ctx: RequestContext) -> Any:
        """Runs of a project/domain, filtered, sorted and paged (the page token is an offset)."""
        c = self._ctx
        req = request.request
        filters = list(req.filters)
        sorts = list(req.sort_by_fields) or (
            [req.sort_by] if req.HasField("sort_by") and req.sort_by.key else []
        )
        limit = req.limit
        if c.open_source:
            problem = rules.list_request_error(
                limit, req.token, [f.field for f in filters], [s.key for s in sorts]
            )
            if problem is not None:
                raise ConnectError(Code.INVALID_ARGUMENT, problem)
            limit = limit or rules.LIST_DEFAULT_LIMIT
        elif req.token and not req.token.isdigit():
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid token: {req.token!r}")
        pid = request.project_id
        runs = [
            r
            for r in c.store.values()
            if (not pid.name or r.project == pid.name)
            and (not pid.domain or r.domain == pid.domain)
            and _matches(r, r.root, filters)
        ]
        runs = _sorted_runs(runs, sorts, c.open_source)
        offset = int(req.token or 0)
        end = offset + limit if limit else len(runs)
        token = str(end) if end < len(runs) else ""
        return run_service_pb2.ListRunsResponse(runs=[run_proto(r) for r in runs[offset:end]], token=token)


class TaskService(_Unimplemented):
    """flyteidl2.task.TaskService: deploy tasks, read one back, list them (what `flyte.deploy` and
    `flyte.remote.Task.get(..., auto_version="latest")` call).

    As flyteidl2/task/task_service.proto describes the real service: DeployTask registers a spec
    under its TaskIdentifier (a second deploy of the same id answers ALREADY_EXISTS, which the SDK
    takes as "already deployed"); GetTaskDetails answers the id, metadata and spec, NOT_FOUND for
    an unknown id; ListTasks lists one task per name, its latest version, filtered by project,
    domain and the `name` filters the SDK sends (EQUAL, CONTAINS), sorted by `created_at`.
    """

    _protocol = task_service_connect.TaskService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def deploy_task(self, request: task_service_pb2.DeployTaskRequest, ctx: RequestContext) -> Any:
        """Register the spec under its id."""
        try:
            self._ctx.deployed(request.task_id)
        except ConnectError:
            pass
        else:
            raise ConnectError(
                Code.ALREADY_EXISTS,
                f"task {request.task_id.name!r} version {request.task_id.version!r} exists",
            )
        metadata = task_definition_pb2.TaskMetadata(
            short_name=request.spec.short_name or request.task_id.name.rsplit(".", 1)[-1],
            deployed_at=_ts(datetime.now(timezone.utc)),
            environment_name=request.spec.environment.name,
        )
        self._ctx.tasks.append(
            task_definition_pb2.TaskDetails(task_id=request.task_id, metadata=metadata, spec=request.spec)
        )
        return task_service_pb2.DeployTaskResponse()

    async def get_task_details(
        self, request: task_service_pb2.GetTaskDetailsRequest, ctx: RequestContext
    ) -> Any:
        """The deployed task's details, or NOT_FOUND."""
        return task_service_pb2.GetTaskDetailsResponse(details=self._ctx.deployed(request.task_id))

    async def list_tasks(self, request: task_service_pb2.ListTasksRequest, ctx: RequestContext) -> Any:
        """The latest version of each task name in the project and domain that the filters let through."""
        pid = request.project_id
        latest: dict[str, task_definition_pb2.TaskDetails] = {}
        for details in self._ctx.tasks:  # deployment order: a later one is newer
            tid = details.task_id
            if (pid.name and tid.project != pid.name) or (pid.domain and tid.domain != pid.domain):
                continue
            if all(_name_matches(tid.name, f) for f in request.request.filters):
                latest[tid.name] = details
        found = list(latest.values())
        if request.request.sort_by.direction == list_pb2.Sort.DESCENDING:
            found.reverse()
        limit = request.request.limit or len(found)
        tasks = [task_definition_pb2.Task(task_id=d.task_id, metadata=d.metadata) for d in found[:limit]]
        return task_service_pb2.ListTasksResponse(tasks=tasks)


def _name_matches(name: str, flt: list_pb2.Filter) -> bool:
    """A ListTasks filter on the task name (the only field the SDK filters tasks by)."""
    if flt.field != "name":
        return True
    if flt.function == list_pb2.Filter.Function.CONTAINS:
        return any(v in name for v in flt.values)
    return name in flt.values


class DataProxyService(_Unimplemented):
    """flyteidl2.dataproxy.DataProxyService: upload locations, offloaded inputs, action data, logs."""

    _protocol = dataproxy_connect.DataProxyService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def create_upload_location(
        self, request: dp_pb2.CreateUploadLocationRequest, ctx: RequestContext
    ) -> Any:
        """A PUT URL on this server and the file:// path the upload lands at."""
        # dataproxy/service/dataproxy_service.go CreateUploadLocation: validateProjectExists.
        self._ctx.check_project(request.project)
        key = request.content_md5.hex() or request.filename_root or uuid.uuid4().hex
        filename = Path(request.filename or "upload").name
        path = self._ctx.state_dir / "blobs" / key / filename
        return dp_pb2.CreateUploadLocationResponse(
            signed_url=f"{self._ctx.endpoint()}/_blobs/{key}/{filename}",
            native_url=f"file://{path}",
        )

    async def upload_inputs(self, request: dp_pb2.UploadInputsRequest, ctx: RequestContext) -> Any:
        """Write the inputs to the state dir and answer where they are."""
        # dataproxy/service/dataproxy_service.go UploadInputs: validateProjectExists.
        self._ctx.check_project(
            request.run_id.project if request.HasField("run_id") else request.project_id.name
        )
        path = _write_inputs(self._ctx.state_dir, request.inputs)
        digest = hashlib.sha256(request.inputs.SerializeToString(deterministic=True)).hexdigest()
        return dp_pb2.UploadInputsResponse(offloaded_input_data=common_offloaded(str(path), digest))

    async def get_action_data(self, request: dp_pb2.GetActionDataRequest, ctx: RequestContext) -> Any:
        """Inputs and (once written) outputs of an action, inline."""
        action = self._ctx.action(request.action_id)
        outputs = action.outputs() or common_pb2.Outputs()
        return dp_pb2.GetActionDataResponse(
            inputs=action.inputs(),
            outputs=outputs,
            inputs_uri=action.inputs_uri,
            outputs_uri=str(action.outputs_path),
        )

    async def tail_logs(self, request: dp_pb2.TailLogsRequest, ctx: RequestContext) -> AsyncIterator[Any]:
        """Stream the action's process output lines, following until the action is terminal."""
        action = self._ctx.action(request.action_id)
        sent = 0
        while not self._ctx.closing():
            done = action.done
            lines = action.log_lines[sent:]
            if lines:
                sent += len(lines)
                yield dp_pb2.TailLogsResponse(
                    logs=[dp_pb2.TailLogsResponse.Logs(lines=[_log_line(line) for line in lines])]
                )
            if done:
                return
            await self._ctx.store.wait_for_change(_POLL_SECONDS)


class ClusterService(_Unimplemented):
    """flyteidl2.cluster.ClusterService: always "use this endpoint"."""

    _protocol = cluster_connect.ClusterService

    async def select_cluster(self, request: Any, ctx: RequestContext) -> Any:
        """An empty answer: stay on this endpoint."""
        return cluster_pb2.SelectClusterResponse()


class QueueService(_Unimplemented):
    """flyteidl2.workflow.QueueService: child actions enqueued by running parent tasks."""

    _protocol = queue_service_connect.QueueService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def enqueue_action(
        self, request: queue_service_pb2.EnqueueActionRequest, ctx: RequestContext
    ) -> Any:
        """Record the child and queue it (a trace arrives already finished).

        A known child id answers ALREADY_EXISTS and leaves that child as it stands: the SDK takes it
        as success (flyte _internal/controllers/remote/_core.py: "already exists, continuing to monitor").
        """
        _enqueue(
            self._ctx,
            request,
            on_duplicate=lambda name: ConnectError(Code.ALREADY_EXISTS, f"action {name!r} already exists"),
        )
        return queue_service_pb2.EnqueueActionResponse()

    async def abort_queued_action(
        self, request: queue_service_pb2.AbortQueuedActionRequest, ctx: RequestContext
    ) -> Any:
        """Abort a child action."""
        action = self._ctx.action(request.action_id)
        await self._ctx.executor.abort(action, request.reason or "aborted by parent")
        return queue_service_pb2.AbortQueuedActionResponse()

    async def abort_queued_run(
        self, request: queue_service_pb2.AbortQueuedRunRequest, ctx: RequestContext
    ) -> Any:
        """Abort a whole run."""
        run = self._ctx.run(request.run_id)
        await self._ctx.executor.abort(run.root, request.reason or "aborted")
        return queue_service_pb2.AbortQueuedRunResponse()


class StateService(_Unimplemented):
    """flyteidl2.workflow.StateService: the child-action update stream a parent task watches."""

    _protocol = state_service_connect.StateService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def watch(self, request: state_service_pb2.WatchRequest, ctx: RequestContext) -> AsyncIterator[Any]:
        """The current state of every child, a sentinel, then an update whenever a child changes phase."""
        async for update, sentinel in _watch_children(self._ctx, request.parent_action_id):
            if sentinel:
                yield state_service_pb2.WatchResponse(
                    control_message=state_service_pb2.ControlMessage(sentinel=True)
                )
            else:
                yield state_service_pb2.WatchResponse(action_update=update)


class ActionsService(_Unimplemented):
    """flyteidl2.actions.ActionsService: what the open-source backend serves for child actions instead of
    QueueService + StateService (actions/setup.go mounts it; runs/setup.go mounts neither of those)."""

    _protocol = actions_service_connect.ActionsService

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    async def enqueue(self, request: actions_service_pb2.EnqueueRequest, ctx: RequestContext) -> Any:
        """Record the child and queue it; a known child id is refused as the open-source backend does.

        actions/k8s/client.go Enqueue creates the TaskAction CR "<run>-<action>"; Kubernetes answers
        AlreadyExists, wrapped with fmt.Errorf, which actions_service.go toConnectError makes INTERNAL
        (only condition actions skip an existing CR). The SDK retries INTERNAL with backoff. It rarely
        gets there: the watch's snapshot (below) already told it which children exist.
        """

        def duplicate(name: str) -> ConnectError:
            run = request.action.action_id.run.name
            return ConnectError(
                Code.INTERNAL,
                f"failed to create TaskAction CR {run}-{name}: taskactions.flyte.org "
                f'"{run}-{name}" already exists',
            )

        _enqueue(self._ctx, request.action, on_duplicate=duplicate)
        return actions_service_pb2.EnqueueResponse()

    async def watch_for_updates(
        self, request: actions_service_pb2.WatchForUpdatesRequest, ctx: RequestContext
    ) -> AsyncIterator[Any]:
        """actions_service.go WatchForUpdates: the children's current state, a sentinel, then updates."""
        async for update, sentinel in _watch_children(self._ctx, request.parent_action_id):
            if sentinel:
                yield actions_service_pb2.WatchForUpdatesResponse(
                    control_message=state_service_pb2.ControlMessage(sentinel=True)
                )
            else:
                yield actions_service_pb2.WatchForUpdatesResponse(action_update=update)

    async def abort(self, request: actions_service_pb2.AbortRequest, ctx: RequestContext) -> Any:
        """Abort an action and its descendants (the backend deletes its CR; children cascade)."""
        action = self._ctx.action(request.action_id)
        await self._ctx.executor.abort(action, request.reason or "aborted by parent")
        return actions_service_pb2.AbortResponse()


def _enqueue(ctx: ServerContext, request: Any, on_duplicate: Callable[[str], ConnectError]) -> Action:
    """Add the child an EnqueueActionRequest or an actions.Action describes, and queue it."""
    run = ctx.run(request.action_id.run)
    if run.root.phase == ABORTED:
        raise ConnectError(Code.ABORTED, f"run {run.name!r} was aborted")
    name = request.action_id.name
    if name in run.actions:
        raise on_duplicate(name)
    is_task = request.HasField("task")
    quota = ctx.faults.action_quota
    if is_task and quota is not None and ctx.unfinished_children() >= quota:
        raise rules.quota_exhausted("actions", quota)
    action = Action(
        run=run,
        name=name,
        parent=request.parent_action_name,
        task_spec=request.task.spec if is_task else None,
        inputs_uri=request.input_uri,
        output_dir=f"{request.run_output_base.rstrip('/')}/{name}",
        group=request.group,
    )
    if request.HasField("trace"):
        action.trace = request.trace
        action.trace_output_uri = request.trace.outputs.output_uri
        run.actions[name] = action
        ctx.store.set_phase(action, request.trace.phase)
    elif is_task:
        run.actions[name] = action
        ctx.store.notify()
        ctx.executor.submit(action)
    else:
        raise ConnectError(
            Code.INVALID_ARGUMENT, "the loopback control plane runs task and trace actions only"
        )
    return action


async def _watch_children(
    ctx: ServerContext, parent_id: identifier_pb2.ActionIdentifier
) -> AsyncIterator[tuple[state_service_pb2.ActionUpdate | None, bool]]:
    """(update, False) per child change; (None, True) once, after the children that exist at the start.

    state_service.proto, ControlMessage: "When a watch begins the service will return the existing
    state of all actions, then a sentinel value, before continuing on with ongoing updates"; the
    open-source actions_service.go WatchForUpdates does exactly that. A parent run again as a new
    attempt thus learns, before it enqueues anything, which children already exist and how they stand.
    """
    parent = ctx.action(parent_id)
    sent: dict[str, int] = {}
    for child in parent.run.children(parent.name):
        sent[child.name] = child.phase
        yield _action_update(child), False
    yield None, True
    while not ctx.closing():
        for child in parent.run.children(parent.name):
            if sent.get(child.name) != child.phase:
                sent[child.name] = child.phase
                yield _action_update(child), False
        if parent.done:
            return
        await ctx.store.wait_for_change(_POLL_SECONDS)


def _server_run_name() -> str:
    """runs/service/run_service.go generateRunName: "r" + 19 characters of k8s rand.String's alphabet."""
    return "r" + "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=19))


# ---------------------------------------------------------------- helpers


def common_offloaded(uri: str, inputs_hash: str) -> Any:
    """An OffloadedInputData message."""
    from flyteidl2.common import run_pb2 as common_run_pb2

    return common_run_pb2.OffloadedInputData(uri=uri, inputs_hash=inputs_hash)


def _write_inputs(state_dir: Path, inputs: common_pb2.Inputs) -> Path:
    path = state_dir / "inputs" / uuid.uuid4().hex / "inputs.pb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(inputs.SerializeToString())
    return path


def _log_line(message: str) -> logs_pb2.LogLine:
    ts = Timestamp()
    ts.GetCurrentTime()
    return logs_pb2.LogLine(timestamp=ts, message=message, originator=logs_pb2.LogLineOriginator.USER)


def _action_update(action: Action) -> state_service_pb2.ActionUpdate:
    update = state_service_pb2.ActionUpdate(
        action_id=action_id(action), phase=action.phase, output_uri=action.output_prefix
    )
    if action.phase == FAILED and action.error is not None:
        update.error.CopyFrom(action.error)
    return update
