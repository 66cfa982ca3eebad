"""Connect server interceptors: one records every RPC and applies per-RPC faults, one checks proto rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from .faults import Faults
from .recorder import CURRENT_RECORD, RecordedRequest, Recorder, now
from .rules import ProtoRules


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
            held = self._faults.create_run_delay(request.run_id.name) if request.HasField("run_id") else 0.0
            if held:
                await asyncio.sleep(held)
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
        token = CURRENT_RECORD.set(record)
        try:
            record.response = await call_next(request, ctx)
        except ConnectError as e:
            record.error = e.code
            raise
        finally:
            CURRENT_RECORD.reset(token)
        if record.method == "RunService/CreateRun" and record.created:
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


class ProtoValidateInterceptor:
    """The hosted profile's request check: flyteidl2's buf.validate rules, before any handler runs.

    What connectrpc.com/validate's interceptor does (validate.go: WrapUnary and the streaming
    handler's Receive validate each request message; responses are not checked by default).
    """

    def __init__(self, rules: ProtoRules) -> None:
        self._rules = rules

    async def intercept_unary(
        self, call_next: Callable[[Any, RequestContext], Awaitable[Any]], request: Any, ctx: RequestContext
    ) -> Any:
        """Refuse an invalid request with INVALID_ARGUMENT, else call the handler."""
        error = self._rules.error(request)
        if error is not None:
            raise error
        return await call_next(request, ctx)

    async def intercept_server_stream(
        self,
        call_next: Callable[[Any, RequestContext], AsyncIterator[Any]],
        request: Any,
        ctx: RequestContext,
    ) -> AsyncIterator[Any]:
        """Refuse an invalid request with INVALID_ARGUMENT, else relay the stream."""
        error = self._rules.error(request)
        if error is not None:
            raise error
        async for item in call_next(request, ctx):
            yield item
