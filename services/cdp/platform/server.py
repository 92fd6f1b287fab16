"""gRPC server bootstrap: grpc.aio with health checking, reflection and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cdp.platform import logs
from cdp.platform.auth import AuthInterceptor, Decide
from cdp.platform.grpc_types import (
    AioServerInterceptor,
    AioUnaryUnaryClientInterceptor,
    Behaviour,
    MethodHandler,
    ServicerContext,
)
from cdp.platform.observe import Observe
from cdp.platform.security import CHANNEL_OPTIONS, RECONNECT_OPTIONS, Credentials
from cdp.platform.status import MapErrors
from cdp.platform.supervise import supervised

if TYPE_CHECKING:
    from cdp.platform.probes import Probes

log = logging.getLogger(__name__)


class _WaitForReady(AioUnaryUnaryClientInterceptor):
    """Service-to-service calls wait for the peer to be reachable (within their deadline)
    instead of failing at once while a channel is still connecting, as just after start."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], grpc.aio.UnaryUnaryCall[Any, Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        # grpc's call details are a namedtuple, which grpc-stubs does not say.
        details = client_call_details._replace(wait_for_ready=True)  # type: ignore[attr-defined]
        rid = logs.request_id.get()
        if rid:  # the request this call serves goes on with it, for the peer's logs
            metadata = [*(details.metadata or ()), (logs.REQUEST_ID_METADATA, rid)]
            details = details._replace(metadata=metadata)
        return await continuation(details, request)


def service_channel(credentials: Credentials, service: str, address: str) -> grpc.aio.Channel:
    """A channel from one service to another: mutual TLS with the service's own certificate."""
    return grpc.aio.secure_channel(
        address,
        credentials.client(service),
        options=[*CHANNEL_OPTIONS, *RECONNECT_OPTIONS],
        interceptors=[_WaitForReady()],  # type: ignore[list-item]  # grpc-stubs leaves aio interceptors untyped
    )


class _Malformed:
    def __init__(self, error: str):
        self.error = error


class RejectMalformed(AioServerInterceptor):
    """A request that does not parse as its message type is INVALID_ARGUMENT, said clearly,
    not the UNKNOWN that a failing deserializer gives."""

    async def intercept_service(  # type: ignore[override]  # grpc-stubs: grpc passes and takes None for no handler
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None or handler.request_streaming is None:
            return handler
        deserialize, method = handler.request_deserializer, details.method

        def tolerant(data: bytes) -> Any:
            try:
                return deserialize(data)
            except DecodeError as error:
                return _Malformed(str(error))

        async def refuse(context: ServicerContext, request: _Malformed) -> None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"request: not a valid message for {method} ({request.error})"
            )

        if handler.unary_unary:
            inner: Behaviour = handler.unary_unary

            async def unary(request: Any, context: ServicerContext) -> Any:
                if isinstance(request, _Malformed):
                    await refuse(context, request)
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(unary, tolerant, handler.response_serializer)
        if handler.stream_unary:
            inner_streamed: Behaviour = handler.stream_unary

            async def streamed(request_iterator: AsyncIterator[Any], context: ServicerContext) -> Any:
                async def checked() -> AsyncIterator[Any]:
                    async for request in request_iterator:
                        if isinstance(request, _Malformed):
                            await refuse(context, request)
                        yield request

                return await inner_streamed(checked(), context)

            return grpc.stream_unary_rpc_method_handler(streamed, tolerant, handler.response_serializer)
        return handler


class Service:
    """One running service: its gRPC server and its background tasks.

    Every call is authenticated (mutual TLS; a bearer token for people and tools) and
    authorised by decide (cdp.access) before the servicer sees it.
    """

    def __init__(self, name: str, address: str, credentials: Credentials, decide: Decide):
        self.name = name
        self.address = address
        self.credentials = credentials
        self.server = grpc.aio.server(
            options=CHANNEL_OPTIONS,
            interceptors=[
                Observe(name),
                AuthInterceptor(decide, credentials.verifier(), require_mtls=True),
                RejectMalformed(),
                MapErrors(),
            ],
        )
        self.health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        self._service_names: list[str] = [reflection.SERVICE_NAME, health.SERVICE_NAME]
        self._tasks: list[asyncio.Task[None]] = []
        self._on_start: list[Callable[[], object]] = []
        self._on_stopping: list[Callable[[], None]] = []
        self._on_stop: list[Callable[[], object]] = []
        self.serving = False  # from start() until stop() begins: what readiness reports
        self.probes: Probes | None = None  # the /healthz and /readyz server (cdp.platform.probes), when configured
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)

    def add(self, adder: Callable[[object, grpc.aio.Server], None], servicer: object, full_name: str) -> None:
        adder(servicer, self.server)
        self._service_names.append(full_name)

    def channel(self, address: str) -> grpc.aio.Channel:
        return service_channel(self.credentials, self.name, address)

    def background(self, start: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Run start() until the service stops, again after a failure (see cdp.platform.supervise)."""
        self._tasks.append(asyncio.create_task(supervised(start, name, self.name), name=name))

    def on_start(self, callback: Callable[[], object]) -> None:
        """Call once the gRPC server listens, before it reports SERVING (a failure stops the start)."""
        self._on_start.append(callback)

    def on_stop(self, callback: Callable[[], object]) -> None:
        self._on_stop.append(callback)

    async def start(self) -> int:
        reflection.enable_server_reflection(self._service_names, self.server)
        port = self.server.add_secure_port(self.address, self.credentials.server(self.name))
        if port == 0:
            raise SystemExit(f"{self.name}: cannot listen on {self.address}")
        await self.server.start()
        for callback in self._on_start:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        for name in self._service_names:
            await _set_serving(self.health, name)
        await _set_serving(self.health, "")
        self.serving = True
        return port

    def on_stopping(self, callback: Callable[[], None]) -> None:
        """Call callback when stopping begins, before in-flight calls drain (to end long waits)."""
        self._on_stopping.append(callback)

    async def stop(self, grace: float = 5.0) -> None:
        self.serving = False
        logging.getLogger("grpc._cython.cygrpc").addFilter(_drop_shutdown_cancellations)
        for callback in self._on_stopping:
            callback()
        await _set_status(self.health, "", health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for stopped in self._on_stop:
            result = stopped()
            if asyncio.iscoroutine(result):
                await result

    async def run_until_signalled(self) -> None:
        """Serve until SIGINT or SIGTERM, then drain in-flight calls and stop."""
        port = await self.start()
        log.info("%s listening on %s", self.name, self.address.rsplit(":", 1)[0] + f":{port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("%s stopping", self.name)
        await self.stop()


def _drop_shutdown_cancellations(record: logging.LogRecord) -> bool:
    """grpc.aio cancels the calls still scheduled when a server stops, and fails to answer those
    whose callers went away meanwhile (other services stopping too), and logs each with a
    traceback (CancelledError, ExecuteBatchError); once the service stops on purpose those are
    the calls it ends, not faults, so they are not logged."""
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, asyncio.CancelledError) or type(error).__name__ == "ExecuteBatchError")


class _Health(Protocol):
    """grpc's health servicer: its aio form's set() is a coroutine function."""

    def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> object: ...


async def _set_serving(servicer: _Health, name: str) -> None:
    await _set_status(servicer, name, health_pb2.HealthCheckResponse.SERVING)


async def _set_status(servicer: _Health, name: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
    result = servicer.set(name, status)
    if asyncio.iscoroutine(result):
        await result
