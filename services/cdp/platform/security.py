"""The platform's credentials on this install: a CA and a certificate per service (mutual TLS)
and an Ed25519 key pair for bearer tokens, all created on first use in <data_dir>.

Services present their certificate to each other; people and tools present the `cli`
certificate and a bearer token. Where the token signing key is at hand (a local install),
tools mint short-lived tokens for the subject and roles they are told to act as.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc

from cdp.platform.config import SERVICES
from cdp.platform.heads import ensure_head_key
from cdp.platform.tls import TlsFiles, channel_credentials, ensure_ca_and_certs, server_credentials
from cdp.platform.tokens import (
    PRIVATE_FILE,
    PUBLIC_FILE,
    REVOKED_FILE,
    Revocations,
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

# gRPC's default reconnect backoff grows to 120 s: a peer back after a few seconds away would go
# unnoticed until the next scheduled attempt (seconds later), and calls waiting for it would wait that
# long. Peers are a loopback or cluster hop away, so retrying every second at most costs nothing.
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class Credentials:
    tls: TlsFiles
    private_key: Path
    public_key: Path

    @property
    def revoked_file(self) -> Path:
        """The ids of revoked tokens, beside the public key (every service reads it)."""
        return self.public_key.parent / REVOKED_FILE

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(load_public_key(self.public_key), revoked=Revocations(self.revoked_file))

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
    if not only:  # the install's full set, as a deployment's trusted machine hands it out
        for service in SERVICES:
            ensure_head_key(data_dir, service)
    tokens = data_dir / "tokens"
    if (tokens / PUBLIC_FILE).exists():  # a deployment may hold only the public key
        return Credentials(tls, tokens / PRIVATE_FILE, tokens / PUBLIC_FILE)
    return Credentials(tls, *ensure_signing_keys(tokens))


def mint_token(data_dir: str | Path, subject: str, roles: Iterable[str], ttl_s: float = 3600) -> str:
    return credentials(data_dir).issuer().issue(subject, list(roles), ttl_s=ttl_s)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
