"""The Connect server interceptor that records every RPC and applies per-RPC faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from .faults import Faults
from .recorder import RecordedRequest, Recorder, now


def method_name(ctx: RequestContext) -> str:
    """ "RunService/CreateRun" for /flyteidl2.workflow.RunService/CreateRun."""
    info = ctx.method()
    return f"{info.service_name.rsplit('.', 1)[-1]}/{info.name}"


class RecordingFaultInterceptor:
    """Records each request on arrival, delays it if asked, fails CreateRuns or loses their replies on demand."""

    def __init__(self, recorder: Recorder, faults: Faults) -> None:
        self._recorder = recorder
        self._faults = faults

    async def _enter(self, request: Any, ctx: RequestContext) -> RecordedRequest:
        method = method_name(ctx)
        record = RecordedRequest(method=method, request=request, arrived_at=now())
        self._recorder.add(record)
        delay = self._faults.latency_for(method)
        if delay:
            await asyncio.sleep(delay)
        if method == "RunService/CreateRun":
            failure = self._faults.next_create_run_failure()
            if failure is not None:
                record.error = failure[0]
                raise ConnectError(failure[0], failure[1])
        return record

    async def intercept_unary(
        self, call_next: Callable[[Any, RequestContext], Awaitable[Any]], request: Any, ctx: RequestContext
    ) -> Any:
        """Record, delay/fail, call, record the answer."""
        record = await self._enter(request, ctx)
        try:
            record.response = await call_next(request, ctx)
        except ConnectError as e:
            record.error = e.code
            raise
        if record.method == "RunService/CreateRun":
            lost = self._faults.lost_reply_for_created_run()
            if lost is not None:  # the run exists; the client never hears so
                record.error = lost
                raise ConnectError(lost, "injected: the run was created but the reply was lost")
        return record.response

    async def intercept_server_stream(
        self,
        call_next: Callable[[Any, RequestContext], AsyncIterator[Any]],
        request: Any,
        ctx: RequestContext,
    ) -> AsyncIterator[Any]:
        """Record, delay, then relay the stream."""
        record = await self._enter(request, ctx)
        try:
            async for item in call_next(request, ctx):
                yield item
        except ConnectError as e:
            record.error = e.code
            raise
