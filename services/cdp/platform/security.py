"""The platform's credentials on this install: a CA and a certificate per service (mutual TLS)
and an Ed25519 key pair for bearer tokens, all created on first use in <data_dir>.

Services present their certificate to each other; people and tools present the `cli`
certificate and a bearer token. Where the token signing key is at hand (a local install),
tools mint short-lived tokens for the subject and roles they are told to act as.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from cdp.platform.grpc_types import (
    AioStreamStreamClientInterceptor,
    AioStreamUnaryClientInterceptor,
    AioUnaryStreamClientInterceptor,
    AioUnaryUnaryClientInterceptor,
    StreamStreamClientInterceptor,
    StreamUnaryClientInterceptor,
    UnaryStreamClientInterceptor,
    UnaryUnaryClientInterceptor,
)
from cdp.platform.tls import TlsFiles, channel_credentials, ensure_ca_and_certs, server_credentials
from cdp.platform.tokens import (
    PRIVATE_FILE,
    PUBLIC_FILE,
    TokenIssuer,
    TokenVerifier,
    ensure_signing_keys,
    load_private_key,
    load_public_key,
)

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]
TOKEN_ENV = "CDP_TOKEN"


@dataclass(frozen=True)
class Credentials:
    tls: TlsFiles
    private_key: Path
    public_key: Path

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(load_public_key(self.public_key))

    def issuer(self) -> TokenIssuer:
        return TokenIssuer(load_private_key(self.private_key))

    def server(self, service: str) -> grpc.ServerCredentials:
        return server_credentials(self.tls, service)

    def client(self, identity: str) -> grpc.ChannelCredentials:
        return channel_credentials(self.tls, identity)


def credentials(data_dir: str | Path, only: str | None = None) -> Credentials:
    """This install's credentials, created where missing (safe to call from every process).

    only: the one identity a process needs a certificate for (a service in a deployment
    holds just its own).
    """
    data_dir = Path(data_dir)
    tls = ensure_ca_and_certs(data_dir / "tls", (only,)) if only else ensure_ca_and_certs(data_dir / "tls")
    tokens = data_dir / "tokens"
    if (tokens / PUBLIC_FILE).exists():  # a deployment may hold only the public key
        return Credentials(tls, tokens / PRIVATE_FILE, tokens / PUBLIC_FILE)
    return Credentials(tls, *ensure_signing_keys(tokens))


def mint_token(data_dir: str | Path, subject: str, roles: Iterable[str], ttl_s: float = 3600) -> str:
    return credentials(data_dir).issuer().issue(subject, list(roles), ttl_s=ttl_s)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


_Metadata = tuple[tuple[str, str | bytes], ...]
_Details = TypeVar("_Details", grpc.ClientCallDetails, grpc.aio.ClientCallDetails)


def _with_default(details: _Details, metadata: _Metadata) -> _Details:
    if any(k == "authorization" for k, _ in (details.metadata or ())):
        return details
    # grpc's call details are a namedtuple, which grpc-stubs does not say.
    return details._replace(metadata=tuple(details.metadata or ()) + metadata)  # type: ignore[attr-defined, no-any-return]


class _DefaultMetadata(
    UnaryUnaryClientInterceptor,
    UnaryStreamClientInterceptor,
    StreamUnaryClientInterceptor,
    StreamStreamClientInterceptor,
):
    """Adds the tool's bearer token to calls (of every shape) that carry no authorization of their own."""

    def __init__(self, metadata: Iterable[tuple[str, str | bytes]]):
        self.metadata = tuple(metadata)

    def _call(
        self, continuation: Callable[[grpc.ClientCallDetails, Any], Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(_with_default(details, self.metadata), request)

    # One method for the four shapes, which grpc calls positionally: its parameters are not named
    # as grpc-stubs names each shape's (request_iterator for the streaming ones).
    intercept_unary_unary = intercept_unary_stream = _call  # type: ignore[assignment]
    intercept_stream_unary = intercept_stream_stream = _call  # type: ignore[assignment]


class _AioDefaultMetadata(
    AioUnaryUnaryClientInterceptor,
    AioUnaryStreamClientInterceptor,
    AioStreamUnaryClientInterceptor,
    AioStreamStreamClientInterceptor,
):
    def __init__(self, metadata: Iterable[tuple[str, str | bytes]]):
        self.metadata = tuple(metadata)

    async def _call(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_default(details, self.metadata), request)

    intercept_unary_unary = intercept_unary_stream = _call  # type: ignore[assignment]  # as above
    intercept_stream_unary = intercept_stream_stream = _call  # type: ignore[assignment]  # as above


def tool_channel(data_dir: str | Path, address: str, token: str | None = None) -> grpc.Channel:
    """A blocking channel for people and tools: the `cli` certificate, and the token (or
    CDP_TOKEN) as the caller of calls that bring no authorization of their own."""
    channel = grpc.secure_channel(address, credentials(data_dir).client("cli"), options=CHANNEL_OPTIONS)
    token = token or os.environ.get(TOKEN_ENV)
    return grpc.intercept_channel(channel, _DefaultMetadata(bearer(token))) if token else channel


def tool_aio_channel(data_dir: str | Path, address: str, token: str | None = None) -> grpc.aio.Channel:
    token = token or os.environ.get(TOKEN_ENV)
    interceptors = [_AioDefaultMetadata(bearer(token))] if token else []
    return grpc.aio.secure_channel(
        address,
        credentials(data_dir).client("cli"),
        options=CHANNEL_OPTIONS,
        interceptors=interceptors,  # type: ignore[arg-type]  # grpc-stubs leaves aio interceptors untyped
    )
