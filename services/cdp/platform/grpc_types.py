"""grpc's types as the type checker sees them (grpc-stubs), named once for the platform.

grpc-stubs declares grpc's interceptor classes generic in their request and response types,
which grpc's own classes are not at run time (they cannot be subscripted): the names below are
the subscripted classes for the type checker and grpc's classes when running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

# A handler's behaviours, as grpc.aio calls them; grpc-stubs types them with grpc's blocking
# ServicerContext, so a wrapper calls them through Behaviour.
ServicerContext: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
MethodHandler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Behaviour: TypeAlias = Callable[..., Any]

if TYPE_CHECKING:
    AioServerInterceptor: TypeAlias = grpc.aio.ServerInterceptor[Any, Any]
    AioUnaryUnaryClientInterceptor: TypeAlias = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
else:
    AioServerInterceptor = grpc.aio.ServerInterceptor
    AioUnaryUnaryClientInterceptor = grpc.aio.UnaryUnaryClientInterceptor
