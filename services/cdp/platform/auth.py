"""Who may call: authenticate every RPC, then let the service's policy decide.

A caller is a service (the CN of a client certificate verified by mutual TLS) or a person or tool
(a bearer token). A call carrying both acts as the token's user: the CLI connects with the `cli`
certificate and sends its user's token. Missing or invalid credentials end the call with
UNAUTHENTICATED; a refusal by decide() with PERMISSION_DENIED, naming the reason and the decision id.
The servicer reads the admitted caller with current_caller().
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc

from cdp.platform.grpc_types import AioServerInterceptor, Behaviour, MethodHandler, ServicerContext
from cdp.platform.tls import peer_service
from cdp.platform.tokens import InvalidToken, TokenVerifier

# decide(method, caller) -> (allow, reason, decision_id[, pii_clear]); may also be a coroutine function.
Verdict = tuple[bool, str, str] | tuple[bool, str, str, bool]
Decide = Callable[[str, dict[str, Any]], Verdict | Awaitable[Verdict]]

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
DECISION_METADATA = "cdp-decision-id"


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: tuple[str, ...] = field(default_factory=tuple)
    kind: str = "user"  # "service" | "user" | "anonymous" (health checks on an insecure port)
    service: str | None = None  # the certificate the call came through, if any
    decision_id: str = ""  # the access decision that admitted the call
    pii_clear: bool = False  # whether that decision lets the caller read personal data in clear
    method: str = ""  # the RPC admitted (its full name), for the access log

    def as_input(self) -> dict[str, Any]:
        return {"subject": self.subject, "kind": self.kind, "roles": list(self.roles)}


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("cdp_caller", default=None)


def admitted_caller() -> Caller | None:
    """The caller of the RPC being served, or None outside one."""
    return _current.get()


def current_caller() -> Caller:
    """The caller of the RPC being served (each RPC runs in its own task, hence its own context)."""
    caller = _current.get()
    if caller is None:
        raise LookupError("no admitted caller: not inside an RPC served behind AuthInterceptor")
    return caller


class AuthInterceptor(AioServerInterceptor):
    def __init__(self, decide: Decide, verifier: TokenVerifier | None, *, require_mtls: bool):
        self.decide = decide
        self.verifier = verifier
        self.require_mtls = require_mtls

    async def intercept_service(  # type: ignore[override]  # grpc-stubs: grpc passes and takes None for no handler
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        async def admit(context: ServicerContext) -> None:
            await self._admit(method, context)

        return wrap(handler, admit)

    async def _admit(self, method: str, context: ServicerContext) -> None:
        caller = await self._authenticate(method, context)
        if method not in HEALTH_METHODS:
            decided = self.decide(method, caller.as_input())
            verdict = await decided if inspect.isawaitable(decided) else decided
            allow, reason, decision_id, *rest = verdict
            if not allow:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"{reason} (decision {decision_id})",
                    trailing_metadata=((DECISION_METADATA, decision_id),),
                )
            caller = Caller(
                caller.subject, caller.roles, caller.kind, caller.service, decision_id, bool(rest and rest[0]), method
            )
        _current.set(caller)

    async def _authenticate(self, method: str, context: ServicerContext) -> Caller:
        peer = peer_service(context)
        if self.require_mtls and peer is None:
            await _unauthenticated(context, "a client certificate from the platform CA is required")
        authorization = _metadata(context, "authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                await _unauthenticated(context, "authorization metadata must be 'Bearer <token>'")
            if self.verifier is None:
                await _unauthenticated(context, "this service does not accept bearer tokens")
            try:
                claims = self.verifier.verify(token.strip())
            except InvalidToken as e:
                await _unauthenticated(context, f"invalid bearer token: {e.reason}")
            return Caller(claims.subject, claims.roles, "user", peer)
        if peer is not None:
            return Caller(peer, ("service",), "service", peer)
        if method in HEALTH_METHODS:  # only reached without mTLS: nobody to ask for credentials
            return Caller("anonymous", (), "anonymous")
        await _unauthenticated(context, "no credentials: present a client certificate or a bearer token")


async def _unauthenticated(context: ServicerContext, reason: str) -> NoReturn:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)


def _metadata(context: ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode("utf-8", "replace")
    return None


# Wrapping handlers ----------------------------------------------------------------------------
# An aio interceptor sees no ServicerContext, so the check runs inside a wrapper around the
# method's behaviour, which does. Streaming responses come from an async generator or from
# context.write() in a coroutine; the wrapper keeps whichever form the method has.

Enter = Callable[[ServicerContext], Awaitable[None]]
Leave = Callable[[ServicerContext, BaseException | None], None]


def wrap(handler: MethodHandler, enter: Enter, leave: Leave | None = None) -> MethodHandler:
    """The handler with enter() awaited before its behaviour and leave() called after it (with
    the exception that ended it, if one did), for every kind of handler."""
    kind: Callable[..., MethodHandler]
    inner: Behaviour | None
    if handler.unary_unary:
        kind, inner = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    elif handler.unary_stream:
        kind, inner = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    elif handler.stream_unary:
        kind, inner = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    else:
        kind, inner = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    assert inner is not None  # grpc gives every handler one of the four behaviours
    call: Behaviour = inner

    def left(context: ServicerContext, error: BaseException | None) -> None:
        if leave is not None:
            leave(context, error)

    behaviour: Behaviour
    if inspect.isasyncgenfunction(call):

        async def from_async_generator(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            try:
                await enter(context)
                async for response in call(request, context):
                    yield response
            except BaseException as error:
                left(context, error)
                raise
            left(context, None)

        behaviour = from_async_generator
    elif inspect.isgeneratorfunction(call):

        async def from_generator(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            try:
                await enter(context)
                for response in call(request, context):
                    yield response
            except BaseException as error:
                left(context, error)
                raise
            left(context, None)

        behaviour = from_generator
    else:

        async def from_function(request: Any, context: ServicerContext) -> Any:
            try:
                await enter(context)
                result = call(request, context)
                answer = await result if inspect.isawaitable(result) else result
            except BaseException as error:
                left(context, error)
                raise
            left(context, None)
            return answer

        behaviour = from_function

    return kind(
        behaviour, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )
