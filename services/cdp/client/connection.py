"""Connecting to the platform: credentials from a directory, one channel per service.

    from cdp.client import Connection

    with Connection.from_credentials("creds", identity="billing") as cdp:
        cdp.segment.get_audience(audience_id)

A credentials directory holds the CA's certificate and the caller's own certificate and key, either
flat (ca.crt, NAME.crt, NAME.key: what `cdp cert issue NAME` writes) or under tls/ (a platform's
data directory). Nothing is ever created there. A caller acts as the service its certificate names
(its CN) unless it sends a bearer token, then as the token's user: give token=, or subject= and
roles= to have one minted, which needs the token signing key (tokens/token-signing.key) in the
directory, as on a local install.

Addresses come from CDP_<SERVICE>_ADDR, else 127.0.0.1 and the service's default port, unless
given. Channels open on first use and are shared by the connections acting_as() makes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from cdp.client import services
from cdp.client.calls import DEFAULT_RETRY, DEFAULT_TIMEOUT_S, Retry, _Client
from cdp.platform.config import DEFAULT_PORTS, SERVICES
from cdp.platform.security import CHANNEL_OPTIONS, RECONNECT_OPTIONS, bearer
from cdp.platform.tokens import PRIVATE_FILE, TokenIssuer, load_private_key

CA_FILE = "ca.crt"
TOKEN_TTL_S = 300


class CredentialsError(Exception):
    """A credentials directory that lacks a file a connection needs (the message names it)."""


@dataclass(frozen=True)
class CredentialFiles:
    """The files of one caller in a credentials directory."""

    dir: Path
    identity: str

    @property
    def tls_dir(self) -> Path:
        nested = self.dir / "tls"
        return nested if (nested / CA_FILE).exists() or not (self.dir / CA_FILE).exists() else self.dir

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / CA_FILE

    @property
    def cert(self) -> Path:
        return self.tls_dir / f"{self.identity}.crt"

    @property
    def key(self) -> Path:
        return self.tls_dir / f"{self.identity}.key"

    @property
    def signing_key(self) -> Path:
        return self.dir / "tokens" / PRIVATE_FILE

    def channel_credentials(self) -> grpc.ChannelCredentials:
        missing = [p for p in (self.ca_cert, self.cert, self.key) if not p.is_file()]
        if missing:
            raise CredentialsError(
                f"credentials for {self.identity!r} in {self.dir}: missing {', '.join(str(p) for p in missing)}"
            )
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_cert.read_bytes(),
            private_key=self.key.read_bytes(),
            certificate_chain=self.cert.read_bytes(),
        )

    def mint(self, subject: str, roles: Iterable[str], ttl_s: float = TOKEN_TTL_S) -> str:
        if not self.signing_key.is_file():
            raise CredentialsError(
                f"cannot mint a token for {subject!r}: no token signing key at {self.signing_key} (pass token=)"
            )
        return TokenIssuer(load_private_key(self.signing_key)).issue(subject, list(roles), ttl_s=ttl_s)


def default_addresses(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """CDP_<SERVICE>_ADDR, else 127.0.0.1:<the service's default port>."""
    return {s: environ.get(f"CDP_{s.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[s]}") for s in SERVICES}


class _Channels:
    """One channel per address, opened on first use; closing closes them all."""

    def __init__(self, credentials: grpc.ChannelCredentials, open_channel):
        self.credentials = credentials
        self.open_channel = open_channel
        self.by_address: dict[str, Any] = {}

    def get(self, address: str):
        if address not in self.by_address:
            self.by_address[address] = self.open_channel(
                address, self.credentials, options=[*CHANNEL_OPTIONS, *RECONNECT_OPTIONS]
            )
        return self.by_address[address]

    def drop(self, address: str):
        return self.by_address.pop(address, None)


class _Connection:
    _open: Any  # grpc.secure_channel or grpc.aio.secure_channel
    _clients: Mapping[str, type[_Client]]  # by service: services.SYNC or services.ASYNC
    _eventlog: type[_Client]
    _ops: type[_Client]
    _health: type[_Client]

    def __init__(
        self,
        credentials: grpc.ChannelCredentials,
        *,
        addresses: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: Retry = DEFAULT_RETRY,
        _channels: _Channels | None = None,
    ):
        self.addresses = {**default_addresses(), **(addresses or {})}
        self.token = token
        self.timeout = timeout
        self.retry = retry
        self.files: CredentialFiles | None = None
        self._owner = _channels is None
        self._channels = _channels or _Channels(credentials, type(self)._open)

    @classmethod
    def from_credentials(
        cls,
        dir: str | Path,
        identity: str = "cli",
        token: str | None = None,
        *,
        subject: str | None = None,
        roles: Iterable[str] = (),
        ttl_s: float = TOKEN_TTL_S,
        addresses: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: Retry = DEFAULT_RETRY,
    ):
        """A connection with the certificate of `identity` from dir, acting as that service, or as
        the user of token (or of a token minted for subject and roles)."""
        files = CredentialFiles(Path(dir), identity)
        credentials = files.channel_credentials()
        if token is None and subject is not None:
            token = files.mint(subject, roles, ttl_s)
        connection = cls(credentials, addresses=addresses, token=token, timeout=timeout, retry=retry)
        connection.files = files
        return connection

    def acting_as(self, token: str | None = None, *, subject: str | None = None, roles: Iterable[str] = ()):
        """The same channels, acting as another caller: a token, or one minted for subject and roles
        (with the directory's signing key); with neither, as the certificate's service."""
        if token is None and subject is not None:
            if self.files is None:
                raise CredentialsError("cannot mint a token: this connection was not made from a credentials directory")
            token = self.files.mint(subject, roles)
        other = type(self)(
            self._channels.credentials,
            addresses=self.addresses,
            token=token,
            timeout=self.timeout,
            retry=self.retry,
            _channels=self._channels,
        )
        other.files = self.files
        return other

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.token) if self.token else ()

    def address(self, service: str) -> str:
        try:
            return self.addresses[service]
        except KeyError:
            raise KeyError(f"no address for {service!r} (set CDP_{service.upper()}_ADDR)") from None

    def channel(self, service: str):
        """The channel to a service (opened on first use)."""
        return self._channels.get(self.address(service))

    def _client(self, kind: type[_Client], service: str):
        return kind(self.channel(service), metadata=self.metadata, timeout=self.timeout, retry=self.retry)

    @property
    def collector(self):
        return self._client(self._clients["collector"], "collector")

    @property
    def identity(self):
        return self._client(self._clients["identity"], "identity")

    @property
    def profile(self):
        return self._client(self._clients["profile"], "profile")

    @property
    def segment(self):
        return self._client(self._clients["segment"], "segment")

    @property
    def activation(self):
        return self._client(self._clients["activation"], "activation")

    @property
    def quality(self):
        """The collector's quality read models (served by the collector)."""
        return self._client(self._clients["quality"], "collector")

    def eventlog(self, service: str):
        """The published event log of a service."""
        return self._client(self._eventlog, service)

    def ops(self, service: str):
        """The operations API of a service."""
        return self._client(self._ops, service)

    def health(self, service: str):
        return self._client(self._health, service)


class Connection(_Connection):
    """Blocking clients of every service: connection.collector.ingest(...), connection.eventlog("profile")."""

    _open = staticmethod(grpc.secure_channel)
    _clients = services.SYNC
    _eventlog = services.EventLogClient
    _ops = services.OpsClient
    _health = services.HealthClient

    # Typed views of the properties, for readers and editors.
    collector: services.CollectorClient
    identity: services.IdentityClient
    profile: services.ProfileClient
    segment: services.SegmentClient
    activation: services.ActivationClient
    quality: services.QualityClient

    def reconnect(self, service: str) -> None:
        """Close the channel to a service; the next call opens a new one (after a restart, say)."""
        channel = self._channels.drop(self.address(service))
        if channel is not None:
            channel.close()

    def close(self) -> None:
        """Close the channels (of every connection sharing them, when this one opened them)."""
        if self._owner:
            for address in list(self._channels.by_address):
                self._channels.drop(address).close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncConnection(_Connection):
    """The same on asyncio: `async with AsyncConnection.from_credentials(...) as cdp:
    await cdp.profile.get_profile(...)`."""

    _open = staticmethod(grpc.aio.secure_channel)
    _clients = services.ASYNC
    _eventlog = services.AsyncEventLogClient
    _ops = services.AsyncOpsClient
    _health = services.AsyncHealthClient

    collector: services.AsyncCollectorClient
    identity: services.AsyncIdentityClient
    profile: services.AsyncProfileClient
    segment: services.AsyncSegmentClient
    activation: services.AsyncActivationClient
    quality: services.AsyncQualityClient

    async def reconnect(self, service: str) -> None:
        channel = self._channels.drop(self.address(service))
        if channel is not None:
            await channel.close()

    async def close(self) -> None:
        if self._owner:
            for address in list(self._channels.by_address):
                await self._channels.drop(address).close()

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
