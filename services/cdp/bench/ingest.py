"""`cdp bench ingest`: the raw event-store append rate, then acknowledged ingest through the collector.

Both run on the same events (the EventAccepted states the collector stores), in the
same process run, so their ratio says what gRPC, validation and the service cost on
top of the store on this machine, however noisy it is.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from cdp.api.collector.v1 import collector_pb2
from cdp.bench import events as calls
from cdp.bench.report import CpuMeter, summary
from cdp.client import AsyncConnection
from cdp.client.local import connect_async, ensure_default_source
from cdp.collector.segment_json import from_event
from cdp.platform.config import SERVICES, StoreConfig
from cdp.platform.ids import derived_id
from cdp.platform.launcher import Platform, free_ports
from cdp.platform.published import stored
from cdp.platform.security import credentials
from cdp.platform.store import open_store

ACCEPTED_TOPIC = collector_pb2.EventAccepted.DESCRIPTOR.full_name


@dataclass
class IngestSettings:
    events: int = 100_000
    batch: int = 100
    # Connections as a fleet of SDKs opens them: each is served by one collector process, and the
    # kernel puts 3 or 4 of 4 on one of 2 processes in 10 of its 16 splits, leaving the other idle.
    clients: int = 16
    repeat: int = 3
    data_dir: Path | None = None
    keep: bool = False  # keep the stores and service logs afterwards
    http: bool = False  # also through the Segment-compatible HTTP API, beside gRPC
    collector_processes: int = os.cpu_count() or 1  # sharing the ports and the store


def accepted_states(events, source_id: str) -> list:
    """The StoredEvents the collector would write for these calls."""
    received = "2025-03-01T00:00:00.000Z"
    out = []
    for event in events:
        event_id = derived_id("event", source_id, event.message_id)
        accepted = collector_pb2.EventAccepted(
            event_id=str(event_id), source_id=source_id, server_side=True, event=event
        )
        accepted.event.received_at = received
        out.append(stored(event_id, 1, accepted))
    return out


def raw_append(directory: Path, stored_events: list, batch: int) -> tuple[float, int]:
    """Append to a fresh SQLite EventStore, one transaction a batch; returns (seconds, count)."""
    store = open_store(StoreConfig(kind="sqlite", data_dir=directory), "rawappend")
    try:
        batches = [stored_events[i : i + batch] for i in range(0, len(stored_events), batch)]
        started = time.perf_counter()
        for page in batches:
            store.append(page)
        elapsed = time.perf_counter() - started
        return elapsed, store.head()
    finally:
        store.close()


async def send_requests(
    connect: Callable[[], AsyncConnection], requests: list[bytes], clients: int
) -> tuple[float, int, int]:
    """Send pre-serialised IngestRequests from concurrent clients, each on its own connection.

    Returns (seconds from the first send to the last acknowledgement, ACCEPTED acks, other acks).
    """
    started, finished, accepted, other = await timed_send(connect, requests, clients)
    return finished - started, accepted, other


def ingest_connection(platform: Platform) -> AsyncConnection:
    """A connection to the platform as a tool whose token holds the ingest role."""
    return connect_async(platform, "cdp-bench", ("ingest",))


async def timed_send(
    connect: Callable[[], AsyncConnection], requests: list[bytes], clients: int
) -> tuple[float, float, int, int]:
    """As send_requests; returns (time.monotonic() of the first send, of the last ack, ACCEPTED, other)."""
    connections = [connect() for _ in range(clients)]
    try:
        collectors = [c.collector for c in connections]
        await asyncio.gather(*(asyncio.wait_for(c.channel.channel_ready(), 10) for c in collectors))
        pending = iter(requests)
        totals = [0, 0]

        async def client(collector) -> None:
            for request in pending:  # shared: whichever client is free takes the next batch
                response = await collector.ingest_prepared(request, timeout=60)
                accepted = sum(1 for ack in response.acks if ack.status == collector_pb2.ACK_STATUS_ACCEPTED)
                totals[0] += accepted
                totals[1] += len(response.acks) - accepted

        started = time.monotonic()
        await asyncio.gather(*(client(c) for c in collectors))
        return started, time.monotonic(), totals[0], totals[1]
    finally:
        for c in connections:
            await c.close()


def http_bodies(write_key: str, events, batch: int) -> list[bytes]:
    """Segment /v1/batch bodies, serialised before timing."""
    calls_json = [from_event(e) for e in events]
    return [
        orjson.dumps({"writeKey": write_key, "batch": calls_json[i : i + batch]})
        for i in range(0, len(calls_json), batch)
    ]


async def send_http(url: str, bodies: list[bytes], clients: int, batch: int) -> tuple[float, int]:
    """POST the bodies from concurrent clients; returns (seconds, events acknowledged with 200)."""
    pending = iter(bodies)
    acknowledged = [0]

    async def client(session: aiohttp.ClientSession) -> None:
        for body in pending:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
                acknowledged[0] += len(orjson.loads(body)["batch"])

    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        return time.monotonic() - started, acknowledged[0]


def stored_count(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM stored_events WHERE topic=?", (ACCEPTED_TOPIC,)).fetchone()[0]


@dataclass
class Transported:
    """One transport's run on a fresh collector: what was acknowledged, stored, and the CPU spent."""

    accepted: int
    not_accepted: int
    stored: int
    seconds: float
    cpu: dict[str, float]
    logs: Path

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def through_collector(settings: IngestSettings, data_dir: Path, events, http: bool) -> Transported:
    """Send the events to a fresh collector (its own store), over gRPC or the HTTP API."""
    platform = Platform(
        data_dir=data_dir,
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        http_port=free_ports(1)[0] if http else 0,
        collector_processes=settings.collector_processes,
    )
    try:
        credentials(data_dir)
        platform.start("collector")
        platform.wait_healthy(["collector"])
        write_key = ensure_default_source(platform, data_dir)
        if http:
            bodies = http_bodies(write_key, events, settings.batch)
        else:
            requests = calls.requests(write_key, events, settings.batch)
        collectors = platform.collector_names()
        meter = CpuMeter({**{n: platform.processes[n].pid for n in collectors}, "bench": os.getpid()})
        meter.start()
        if http:
            url = f"http://127.0.0.1:{platform.http_port}/v1/batch"
            seconds, accepted = asyncio.run(send_http(url, bodies, settings.clients, settings.batch))
            other = len(events) - accepted
        else:
            connect = functools.partial(ingest_connection, platform)
            seconds, accepted, other = asyncio.run(send_requests(connect, requests, settings.clients))
        per_process = meter.stop()
    finally:
        platform.stop()
    cpu = {"collector": round(sum(per_process[n] for n in collectors), 1), "bench": per_process["bench"]}
    return Transported(
        accepted, other, stored_count(data_dir / "collector.sqlite"), seconds, cpu, platform.log_path("collector")
    )


def run(settings: IngestSettings, progress: Callable[[str], None] = lambda m: None) -> dict:
    """The raw append, then gRPC and (with http) the HTTP API, each on a fresh collector and
    store: the transport measured second does not meet a larger store, nor the quality read
    model still folding what the first one sent. Which of the two goes first alternates."""
    base = Path(tempfile.mkdtemp(prefix="cdp-bench-ingest-", dir=settings.data_dir))
    raw_rates: list[float] = []
    ingest_rates: list[float] = []
    http_rates: list[float] = []
    ratios: list[float] = []
    details = []
    try:
        for repeat in range(settings.repeat):
            run_id = f"b{repeat}-{uuid.uuid4().hex[:8]}"
            events = calls.mixed(settings.events, run_id, seed=repeat + 1)

            # 1. The raw store, on the states the collector would store for these events.
            states = accepted_states(events, str(uuid.uuid4()))
            seconds, head = raw_append(base / f"raw-{repeat}", states, settings.batch)
            del states
            raw = head / seconds
            raw_rates.append(raw)
            progress(f"run {repeat + 1}/{settings.repeat}: raw append {raw:,.0f} events/s ({head} in {seconds:.2f}s)")

            # 2. The collector, as processes, over gRPC and over HTTP: the same calls, each on its own store.
            transports = [False, True] if settings.http else [False]
            if repeat % 2:
                transports.reverse()
            for http in transports:
                name = "http" if http else "grpc"
                result = through_collector(settings, base / f"platform-{repeat}-{name}", events, http)
                if result.accepted != settings.events or result.stored != result.accepted:
                    raise RuntimeError(
                        f"{name} ingest run {repeat + 1}: sent {settings.events}, {result.accepted} acknowledged "
                        f"as accepted, {result.stored} stored; logs in {result.logs}"
                    )
                label = "HTTP ingest" if http else "ingest"
                progress(
                    f"run {repeat + 1}/{settings.repeat}: {label} {result.rate:,.0f} events/s acknowledged "
                    f"({result.accepted} accepted, {result.not_accepted} not, {result.stored} stored, "
                    f"{result.seconds:.2f}s; CPU % of a core: collector ({settings.collector_processes} processes) "
                    f"{result.cpu['collector']:.0f}, bench client {result.cpu['bench']:.0f})"
                )
                if http:
                    http_rates.append(result.rate)
                    continue
                ingest_rates.append(result.rate)
                ratios.append(result.rate / raw)
                details.append(
                    {
                        "accepted": result.accepted,
                        "not_accepted": result.not_accepted,
                        "stored": result.stored,
                        "seconds": result.seconds,
                        "cpu_percent": result.cpu,
                    }
                )
    except BaseException:
        progress(f"kept {base} for a look")
        raise
    else:
        if settings.keep:
            progress(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    raw_s, ingest_s = summary(raw_rates), summary(ingest_rates)
    http_s = summary(http_rates) if http_rates else None
    return {
        "events": settings.events,
        "batch": settings.batch,
        "clients": settings.clients,
        "collector_processes": settings.collector_processes,
        "repeat": settings.repeat,
        "raw_append_events_per_s": raw_s,
        "ingest_events_per_s": ingest_s,
        **(
            {"http_ingest_events_per_s": http_s, "http_over_grpc": http_s["median"] / ingest_s["median"]}
            if http_s
            else {}
        ),
        "ratio": {**summary(ratios), "of_medians": ingest_s["median"] / raw_s["median"]},
        "runs": details,
    }
