"""The ASGI app (Connect services + blob PUT/GET) and the uvicorn server on a background loop thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from connectrpc.server import ConnectASGIApplication
from flyteidl2.actions.actions_service_connect import ActionsServiceASGIApplication
from flyteidl2.cluster.service_connect import ClusterServiceASGIApplication
from flyteidl2.dataproxy.dataproxy_service_connect import DataProxyServiceASGIApplication
from flyteidl2.task.task_service_connect import TaskServiceASGIApplication
from flyteidl2.workflow.queue_service_connect import QueueServiceASGIApplication
from flyteidl2.workflow.run_service_connect import RunServiceASGIApplication
from flyteidl2.workflow.state_service_connect import StateServiceASGIApplication

from .faults import Faults
from .interceptor import ProtoValidateInterceptor, RecordingFaultInterceptor
from .recorder import RecordedRequest, Recorder, now
from .rules import ProtoRules
from .services import (
    ActionsService,
    ClusterService,
    DataProxyService,
    QueueService,
    RunService,
    ServerContext,
    StateService,
    TaskService,
)

T = TypeVar("T")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
BLOB_PREFIX = "/_blobs/"


class LoopbackApp:
    """Routes Connect paths to the service apps and /_blobs/<key>/<file> to the blob store."""

    def __init__(self, ctx: ServerContext, recorder: Recorder, faults: Faults) -> None:
        self._blob_dir = ctx.state_dir / "blobs"
        self._recorder = recorder
        interceptors: list[Any] = [RecordingFaultInterceptor(recorder, faults)]
        if ctx.profile == "hosted":
            interceptors.append(ProtoValidateInterceptor(ProtoRules()))  # inside: its refusals are recorded
        apps: list[ConnectASGIApplication[Any]] = [
            RunServiceASGIApplication(RunService(ctx), interceptors=interceptors),
            TaskServiceASGIApplication(TaskService(ctx), interceptors=interceptors),
            DataProxyServiceASGIApplication(DataProxyService(ctx), interceptors=interceptors),
            ClusterServiceASGIApplication(ClusterService(), interceptors=interceptors),
            ActionsServiceASGIApplication(ActionsService(ctx), interceptors=interceptors),
        ]
        if ctx.profile == "hosted":
            # The open-source backend mounts no QueueService or StateService (runs/setup.go,
            # actions/setup.go): its tasks run with _U_USE_ACTIONS=1 and use ActionsService.
            apps += [
                QueueServiceASGIApplication(QueueService(ctx), interceptors=interceptors),
                StateServiceASGIApplication(StateService(ctx), interceptors=interceptors),
            ]
        self._apps = {app.path: app for app in apps}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        if path.startswith(BLOB_PREFIX):
            await self._blob(scope, receive, send)
            return
        app = self._apps.get(path.rsplit("/", 1)[0])
        if app is None:
            await _respond(send, 404, b"not found")
            return
        await app(scope, receive, send)

    async def _blob(self, scope: Scope, receive: Receive, send: Send) -> None:
        rel = Path(scope["path"].removeprefix(BLOB_PREFIX))
        if ".." in rel.parts or len(rel.parts) != 2:
            await _respond(send, 400, b"bad blob path")
            return
        target = self._blob_dir / rel
        self._recorder.add(
            RecordedRequest(method=f"HTTP/{scope['method']}", request=scope["path"], arrived_at=now())
        )
        if scope["method"] == "PUT":
            body = bytearray()
            while True:
                msg = await receive()
                body.extend(msg.get("body", b""))
                if not msg.get("more_body"):
                    break
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bytes(body))
            await _respond(send, 200, b"")
        elif scope["method"] == "GET" and target.is_file():
            await _respond(send, 200, target.read_bytes())
        else:
            await _respond(send, 404, b"not found")


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ServerThread:
    """An asyncio loop on a daemon thread that hosts uvicorn; the server can stop and restart on one port."""

    def __init__(self, app: LoopbackApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self.host = host
        self.port = port
        self.closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="flyte-loopback", daemon=True)
        self._thread.start()
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop every service and the executor run on."""
        return self._loop

    @property
    def running(self) -> bool:
        """Whether uvicorn is accepting connections."""
        return self._server is not None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30) -> T:
        """Run a coroutine on the server loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        """Bind (the same port again after a stop) and serve."""
        self.call(self._start())

    def stop(self) -> None:
        """Stop accepting connections and end open streams; state and running tasks survive."""
        self.call(self._stop())

    def close(self, before: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Stop the server, run `before` on the loop, then stop the loop and its thread."""
        if self.running:
            self.stop()
        if before is not None:
            self.call(before())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            http="h11",
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            ws="none",
        )
        self.closing = False
        server = uvicorn.Server(config)
        self._server = server
        self._serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._serving.done():
                self._server = None
                await self._serving  # raises the startup error
            await asyncio.sleep(0.01)

    async def _stop(self) -> None:
        if self._server is None or self._serving is None:
            return
        self.closing = True
        self._server.should_exit = True
        await self._serving
        self._server = None
        self._serving = None
