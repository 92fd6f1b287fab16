"""Helpers for end-to-end tests: the five services as real processes on free loopback ports.

`running_platform(data_dir)` starts them (SQLite files in data_dir) and always stops them;
`Client` holds a cdp.client connection to every service and the calls the tests make through it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc

from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.client import (
    ActivationClient,
    CdpError,
    CollectorClient,
    Connection,
    EventLogClient,
    IdentityClient,
    ProfileClient,
    SegmentClient,
)
from cdp.client.local import connect
from cdp.platform.config import SERVICES
from cdp.platform.launcher import Platform, free_ports


def new_platform(data_dir: Path, extra_args: Sequence[str] = ()) -> Platform:
    free = free_ports(2 * len(SERVICES))
    ports = dict(zip(SERVICES, free, strict=False))
    probes = dict(zip(SERVICES, free[len(SERVICES) :], strict=True))
    return Platform(data_dir=Path(data_dir), ports=ports, extra_args=list(extra_args), probe_ports=probes)


def log_tails(platform: Platform, lines: int = 40) -> str:
    out = []
    for service in SERVICES:
        path = platform.log_path(service)
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {service} ({path}) ---\n" + "\n".join(tail))
    return "\n".join(out)


@contextlib.contextmanager
def running_platform(data_dir: Path, extra_args: Sequence[str] = ()) -> Iterator[Platform]:
    platform = new_platform(data_dir, extra_args)
    try:
        try:
            platform.start_all(timeout=60)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
        yield platform
    finally:
        platform.stop()


def wait_until(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Call check until it returns something truthy (returned) or raise after timeout.

    Exceptions raised by check count as "not yet" (the last one is reported).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (AssertionError, CdpError, grpc.RpcError, KeyError, LookupError) as error:
            last_error = error
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what} not reached within {timeout}s" + (f"; last: {last_error!r}" if last_error else "")
            )
        time.sleep(interval)


class Client:
    """cdp.client clients of every service of one platform, acting as an admin unless a call
    says otherwise (metadata=, or a connection from as_user)."""

    def __init__(self, platform: Platform):
        self.platform = platform
        # The `cli` certificate, acting as an admin unless a call says otherwise.
        self.token = platform.token("e2e-admin", ("admin",), ttl_s=3600)  # the longest a token may live
        self.connection = connect(platform, token=self.token)

    @property
    def collector(self) -> CollectorClient:
        return self.connection.collector

    @property
    def identity(self) -> IdentityClient:
        return self.connection.identity

    @property
    def profile(self) -> ProfileClient:
        return self.connection.profile

    @property
    def segment(self) -> SegmentClient:
        return self.connection.segment

    @property
    def activation(self) -> ActivationClient:
        return self.connection.activation

    def eventlog(self, service: str) -> EventLogClient:
        return self.connection.eventlog(service)

    def as_user(self, subject: str, roles: Sequence[str]) -> Connection:
        """The same channels, acting as subject with roles."""
        return self.connection.acting_as(self.platform.token(subject, tuple(roles)))

    def approve_syncs(self, approver: str = "pia@example.com") -> list:
        """Approve every sync waiting for it, as a privacy officer other than their author (four
        eyes: a sync of personal data sends nothing until then)."""
        officer = self.as_user(approver, ["privacy_officer"]).activation
        return [officer.approve_sync(s.sync_id, timeout=30) for s in officer.list_pending_syncs(timeout=30)]

    def reconnect(self, service: str) -> None:
        """A fresh channel after a restart (the old one would recover too, after its backoff)."""
        self.connection.reconnect(service)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Collector -----------------------------------------------------------------

    def create_source(self, name: str = "e2e", server_side: bool = True) -> collector_pb2.Source:
        return self.collector.create_source(name, server_side, timeout=10)

    def ingest(self, write_key: str, events, timeout: float = 30) -> collector_pb2.IngestResponse:
        return self.collector.ingest(write_key, events, timeout=timeout)

    # Event logs ------------------------------------------------------------------

    def read_log(
        self, service: str, topics: Sequence[str] = (), after: int = 0, timeout: float = 10
    ) -> list[eventlog_pb2.Notification]:
        """Every notification of a service's published log (of these topics) after a position."""
        return list(self.eventlog(service).read_all(topics, after, timeout=timeout))

    def read_messages(self, service: str, message_class) -> list:
        """The decoded published messages of one type from a service's log, in order."""
        return list(self.eventlog(service).read_messages(message_class))
