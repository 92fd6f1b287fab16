"""The one place where errors become gRPC statuses.

An expected error (cdp.platform.errors) becomes its status with its message. A failed call to
another service passes its status on (UNAVAILABLE and DEADLINE_EXCEEDED as UNAVAILABLE, so the
caller retries). Anything else is a fault: INTERNAL, with an error id that is also logged with
the traceback, so an operator can find it; its message, which may hold data, stays in the log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from cdp.platform import errors
from cdp.platform.grpc_types import AioServerInterceptor, Behaviour, MethodHandler, ServicerContext

log = logging.getLogger(__name__)

CODES: dict[type[errors.CdpError], grpc.StatusCode] = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}
PASSED_ON = {
    grpc.StatusCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
}


def status_of(error: BaseException, method: str = "") -> tuple[grpc.StatusCode, str]:
    """The status and message a caller gets for an error raised while serving method."""
    for kind, code in CODES.items():
        if isinstance(error, kind):
            return code, str(error)
    if isinstance(error, grpc.aio.AioRpcError) and error.code() in PASSED_ON:
        return PASSED_ON[error.code()], f"a service this call needs answered {error.code().name}: {error.details()}"
    error_id = uuid.uuid4().hex[:12]
    log.error("%s failed (error id %s)", method or "call", error_id, exc_info=error)
    return grpc.StatusCode.INTERNAL, f"internal error (error id {error_id}); the service logged the cause"


def _passes(error: BaseException) -> bool:
    """What the gRPC machinery raises itself: an abort already under way, a cancelled call."""
    return isinstance(error, (grpc.aio.AbortError, asyncio.CancelledError))


class MapErrors(AioServerInterceptor):
    """Ends a call that raised with the status status_of() gives."""

    async def intercept_service(  # type: ignore[override]  # grpc-stubs: grpc passes and takes None for no handler
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        return _wrapped(handler, details.method)


def _wrapped(handler: MethodHandler, method: str) -> MethodHandler:
    async def fail(context: ServicerContext, error: Exception) -> None:
        code, message = status_of(error, method)
        await context.abort(code, message)

    def unary(inner: Behaviour) -> Behaviour:
        async def behaviour(request: Any, context: ServicerContext) -> Any:
            try:
                result = inner(request, context)
                return await result if inspect.isawaitable(result) else result
            except asyncio.CancelledError:
                # The server is stopping (or the caller went): end the call as retryable, rather
                # than let the cancellation surface as a traceback in the server's log.
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the service is stopping; retry")
            except Exception as error:
                if _passes(error):
                    raise
                await fail(context, error)

        return behaviour

    def streaming(inner: Behaviour) -> Behaviour:
        async def behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            try:
                async for response in inner(request, context):
                    yield response
            except asyncio.CancelledError:
                return  # the server is stopping, or the caller went
            except Exception as error:
                if _passes(error):
                    raise
                await fail(context, error)

        return behaviour

    common = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **common)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **common)
    if handler.unary_stream and inspect.isasyncgenfunction(handler.unary_stream):
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **common)
    if handler.stream_stream and inspect.isasyncgenfunction(handler.stream_stream):
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **common)
    return handler
