"""The outermost server interceptor: a request id for every RPC, and its count and latency.

The request id is the caller's `x-request-id` metadata when it is a plain id, else a new one; it
is in every log line written while the call is served (cdp.platform.logs) and is sent on to the
services the call reaches (service_channel adds it to outgoing calls).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc

from cdp.platform import logs, metrics
from cdp.platform.auth import wrap
from cdp.platform.grpc_types import AioServerInterceptor, MethodHandler, ServicerContext


def _code(context: ServicerContext, error: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):  # grpc.aio reports the cygrpc number
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    if error is None:
        return "OK"
    return "UNKNOWN" if isinstance(error, Exception) else "CANCELLED"


class Observe(AioServerInterceptor):
    def __init__(self, service: str):
        self.service = service

    async def intercept_service(  # type: ignore[override]  # grpc-stubs: grpc passes and takes None for no handler
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        offered = next((v for k, v in details.invocation_metadata or () if k == logs.REQUEST_ID_METADATA), None)
        started: list[float] = []

        async def enter(context: ServicerContext) -> None:
            logs.request_id.set(logs.new_request_id(offered if isinstance(offered, str) else None))
            started.append(time.perf_counter())

        def leave(context: ServicerContext, error: BaseException | None) -> None:
            seconds = time.perf_counter() - started[-1] if started else 0.0
            metrics.RPCS.labels(self.service, method, _code(context, error)).inc()
            metrics.RPC_SECONDS.labels(self.service, method).observe(seconds)

        return wrap(handler, enter, leave)
