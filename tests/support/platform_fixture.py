"""Helpers for end-to-end tests: the five services as real processes on free loopback ports.

`running_platform(data_dir)` starts them (SQLite files in data_dir) and always stops them;
`Client` holds one gRPC channel per service and the calls the tests make through them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc

from cdp.api.activation.v1 import activation_pb2_grpc
from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.identity.v1 import identity_pb2_grpc
from cdp.api.profile.v1 import profile_pb2_grpc
from cdp.api.segment.v1 import segment_pb2_grpc
from cdp.platform.config import SERVICES
from cdp.platform.launcher import Platform, free_ports
from cdp.platform.published import decode


def new_platform(data_dir: Path, extra_args: Sequence[str] = ()) -> Platform:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    return Platform(data_dir=Path(data_dir), ports=ports, extra_args=list(extra_args))


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
        except (AssertionError, grpc.RpcError, KeyError, LookupError) as error:
            last_error = error
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what} not reached within {timeout}s" + (f"; last: {last_error!r}" if last_error else "")
            )
        time.sleep(interval)


class Client:
    """Channels and stubs to every service of one platform."""

    def __init__(self, platform: Platform):
        self.platform = platform
        # The `cli` certificate, acting as an admin unless a call says otherwise.
        self.token = platform.token("e2e-admin", ("admin",), ttl_s=6 * 3600)
        self.channels = {s: platform.channel(s, self.token) for s in SERVICES}
        self.collector = collector_pb2_grpc.CollectorServiceStub(self.channels["collector"])
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channels["identity"])
        self.profile = profile_pb2_grpc.ProfileServiceStub(self.channels["profile"])
        self.segment = segment_pb2_grpc.SegmentServiceStub(self.channels["segment"])
        self.activation = activation_pb2_grpc.ActivationServiceStub(self.channels["activation"])

    def reconnect(self, service: str) -> None:
        """A fresh channel after a restart (the old one would recover too, after its backoff)."""
        self.channels[service].close()
        self.channels[service] = self.platform.channel(service, self.token)
        stub = {
            "collector": collector_pb2_grpc.CollectorServiceStub,
            "identity": identity_pb2_grpc.IdentityServiceStub,
            "profile": profile_pb2_grpc.ProfileServiceStub,
            "segment": segment_pb2_grpc.SegmentServiceStub,
            "activation": activation_pb2_grpc.ActivationServiceStub,
        }[service]
        setattr(self, service, stub(self.channels[service]))

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Collector -----------------------------------------------------------------

    def create_source(self, name: str = "e2e", server_side: bool = True) -> collector_pb2.Source:
        return self.collector.CreateSource(
            collector_pb2.CreateSourceRequest(name=name, server_side=server_side), timeout=10
        ).source

    def ingest(self, write_key: str, events, timeout: float = 30) -> collector_pb2.IngestResponse:
        return self.collector.Ingest(
            collector_pb2.IngestRequest(write_key=write_key, events=list(events)), timeout=timeout
        )

    # Event logs ------------------------------------------------------------------

    def read_log(
        self, service: str, topics: Sequence[str] = (), after: int = 0, timeout: float = 10
    ) -> list[eventlog_pb2.Notification]:
        """Every notification of a service's published log (of these topics) after a position."""
        stub = eventlog_pb2_grpc.EventLogServiceStub(self.channels[service])
        out: list[eventlog_pb2.Notification] = []
        while True:
            page = stub.Read(eventlog_pb2.ReadRequest(after=after, limit=2000, topics=list(topics)), timeout=timeout)
            if not page.notifications:
                return out
            out.extend(page.notifications)
            after = page.notifications[-1].id

    def read_messages(self, service: str, message_class) -> list:
        """The decoded published messages of one type from a service's log, in order."""
        topic = message_class.DESCRIPTOR.full_name
        return [decode(n.topic, n.payload) for n in self.read_log(service, [topic])]
