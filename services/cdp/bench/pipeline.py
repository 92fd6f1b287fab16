"""`cdp bench pipeline`: the whole platform, from a tracking call to a webhook.

Two phases on one running platform (five service processes, SQLite):

- throughput: N calls for many distinct persons, sent as fast as the clients can;
  timed from the first send until every expected member has entered the audience
  in segment's log and every expected `audience.entered` webhook has arrived;
- freshness: identify calls for new "pro" persons at a steady rate; each one makes
  its person enter the audience, so each has one webhook. Latency is the time from
  sending the call to the webhook arriving at a loopback receiver in this process.
  Measured twice: on its own, and beside a noisy neighbour (another platform's
  throughput bench, `cdp bench ingest`, sending as fast as it can on the same cores).

Follower lag is sampled from the services' SQLite files (read-only): for every
follower, the upstream notifications of its topics after its committed position.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web
from google.protobuf.message import Message

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.bench import events as calls
from cdp.bench.ingest import ingest_connection, timed_send
from cdp.bench.report import CpuMeter, memory_mb, percentile
from cdp.client import AsyncConnection, CdpError
from cdp.client.local import connect_async, ensure_default_source
from cdp.platform.config import SERVICES, StoreConfig
from cdp.platform.launcher import Platform, free_ports
from cdp.platform.store import EventStore, open_store

BENCH_ROLES = ("admin",)  # the bench's own calls: audiences, destinations, reading logs
ENTERED_TOPIC = segment_pb2.MembershipEntered.DESCRIPTOR.full_name
PER_PERSON = 5  # an identify and four tracks
PRO_EVERY = 2  # every other person is on plan "pro"

# (edge, upstream store, topics the follower reads, downstream store, tracking name)
EDGES: tuple[tuple[str, str, list[type[Message]], str, str], ...] = (
    ("collector>identity", "collector", [collector_pb2.EventAccepted], "identity", "collector"),
    ("collector>profile", "collector", [collector_pb2.EventAccepted], "profile", "collector"),
    ("identity>profile", "identity", [identity_pb2.PersonsMerged], "profile", "identity"),
    ("profile>segment", "profile", [profile_pb2.ProfileChanged, profile_pb2.ProfileMerged], "segment", "profile"),
    (
        "segment>activation",
        "segment",
        [segment_pb2.MembershipEntered, segment_pb2.MembershipExited],
        "activation",
        "segment",
    ),
)


@dataclass
class PipelineSettings:
    events: int = 20_000
    rate: float = 1000.0
    batch: int = 100
    clients: int = 4
    freshness_seconds: float = 10.0
    timeout: float = 300.0
    data_dir: Path | None = None
    keep: bool = False  # keep the stores and service logs afterwards
    neighbour: bool = True  # measure freshness a second time, beside another platform's ingest bench
    store: str = "sqlite"  # or postgres (postgres_dsn, a schema prefix of the run's own, dropped after)
    postgres_dsn: str = ""

    def store_config(self, data_dir: Path, prefix: str) -> StoreConfig:
        if self.store == "postgres":
            return StoreConfig("postgres", data_dir, self.postgres_dsn, prefix)
        return StoreConfig("sqlite", data_dir)


# The webhook receiver ------------------------------------------------------------


class WebhookReceiver:
    """aiohttp on 127.0.0.1 (port 0) in its own thread and loop, so the bench's own
    sending never delays a receive time. Keeps the first `audience.entered` time a person."""

    def __init__(self) -> None:
        self.entered: dict[str, float] = {}  # person_id -> time.monotonic() of its first entered webhook
        self.posts = 0
        self.repeats = 0  # the same delivery posted again
        self.without_plan = 0  # entered payloads whose traits lack "plan" (the trait the audience is about)
        self._deliveries: set[str] = set()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, name="webhook-receiver", daemon=True)
        self.url = ""
        self._error: BaseException | None = None

    def start(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or not self.url:
            raise RuntimeError(f"webhook receiver did not start: {self._error}")
        return self.url

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._receive)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = runner.addresses[0][1]  # the (host, port) the site is bound to
            self.url = f"http://127.0.0.1:{port}/hook"
        except BaseException as error:  # reported by start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _receive(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        body = orjson.loads(await request.read())
        self.posts += 1
        delivery = body.get("delivery_id", "")
        if delivery in self._deliveries:
            self.repeats += 1
        self._deliveries.add(delivery)
        if body.get("type") == "audience.entered":
            self.entered.setdefault(body.get("person_id", ""), at)
            if "plan" not in (body.get("traits") or {}):
                self.without_plan += 1
        return web.Response(status=200, text="ok")

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


# Follower lag ------------------------------------------------------------------------


class LagSampler:
    """Samples, every interval, each follower's backlog: upstream notifications of the
    topics it follows after the position it committed (read-only, from the SQLite files)."""

    def __init__(self, data_dir: Path, interval: float = 0.25):
        self.data_dir = data_dir
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._connections: dict[str, sqlite3.Connection] = {}

    def _db(self, service: str) -> sqlite3.Connection:
        conn = self._connections.get(service)
        if conn is None:
            conn = sqlite3.connect(
                f"file:{self.data_dir / f'{service}.sqlite'}?mode=ro", uri=True, check_same_thread=False, timeout=5
            )
            self._connections[service] = conn
        return conn

    def sample(self) -> dict[str, int]:
        lags: dict[str, int] = {}
        for edge, upstream, topics, downstream, name in EDGES:
            try:
                row = (
                    self._db(downstream)
                    .execute("SELECT MAX(notification_id) FROM tracking WHERE application_name=?", (name,))
                    .fetchone()
                )
                position = row[0] or 0
                names = [t.DESCRIPTOR.full_name for t in topics]
                lags[edge] = (
                    self._db(upstream)
                    .execute(
                        f"SELECT COUNT(*) FROM stored_events WHERE rowid>? AND topic IN ({','.join('?' * len(names))})",
                        (position, *names),
                    )
                    .fetchone()[0]
                )
            except sqlite3.Error:
                continue
        return lags

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.samples.append((started, self.sample()))
            self._stop.wait(max(self.interval - (time.monotonic() - started), 0.01))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        for conn in self._connections.values():
            conn.close()

    def between(self, start: float, end: float) -> dict[str, int]:
        """The largest backlog of each follower sampled in [start, end]."""
        out: dict[str, int] = {}
        for at, lags in self.samples:
            if start <= at <= end:
                for edge, lag in lags.items():
                    out[edge] = max(out.get(edge, 0), lag)
        return out

    def at(self, moment: float) -> dict[str, int]:
        """The first sample at or after moment."""
        for at, lags in self.samples:
            if at >= moment:
                return dict(lags)
        return self.samples[-1][1] if self.samples else {}


class StoreLag(LagSampler):
    """The same samples through the stores' own API, on any kind of store: a follower's backlog
    is its upstream's head less its committed position (notifications of every topic, so an
    upper bound of the topics it follows)."""

    def __init__(self, stores: dict[str, EventStore], interval: float = 0.25):
        super().__init__(Path(), interval)
        self.stores = stores

    def sample(self) -> dict[str, int]:
        lags: dict[str, int] = {}
        for edge, upstream, _topics, downstream, name in EDGES:
            try:
                lags[edge] = max(self.stores[upstream].head() - self.stores[downstream].position(name), 0)
            except Exception:  # a store busy or going away: no sample this time
                continue
        return lags


# Segment's log: when did the expected members enter? -----------------------------------


class MembershipWatcher:
    """Follows segment's event log (MembershipEntered) and notes when each count was reached."""

    def __init__(self, connection: AsyncConnection, audience_id: str):
        self.connection = connection
        self.log = connection.eventlog("segment")
        self.audience_id = audience_id
        self.count = 0
        self.last_at = 0.0
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        after = 0
        while True:
            try:
                page = await self.log.read(after, 2000, 1000, [ENTERED_TOPIC], timeout=15)
            except CdpError:
                await asyncio.sleep(0.1)
                continue
            at = time.monotonic()
            for n in page.notifications:
                message = segment_pb2.MembershipEntered.FromString(n.payload)
                if message.audience_id == self.audience_id:
                    self.count += 1
                    self.last_at = at
            if page.notifications:
                after = page.notifications[-1].id
                self._changed.set()

    async def reached(self, count: int, deadline: float) -> bool:
        while self.count < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.connection.close()


class Neighbour:
    """Another platform's throughput bench (`cdp bench ingest`: its own stores and service
    processes) sending as fast as it can, from start() until stop()."""

    EVENTS = 400_000  # enough to send for longer than a freshness phase

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.lasted = False  # still sending when stopped

    async def start(self, progress) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-c", "from cdp.cli.main import main; main()", "bench", "ingest"]
        command += ["--events", str(self.EVENTS), "--repeat", "1", "--data-dir", str(self.data_dir)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.process.stderr is not None
        progress("noisy neighbour: another platform's ingest bench, waiting until it sends...")
        # Its first line comes once its raw-append phase is over and its collector ingest begins.
        line = await asyncio.to_thread(self.process.stderr.readline)
        if not line:
            raise RuntimeError("the neighbour's ingest bench ended before it sent")

    def stop(self) -> None:
        if self.process is None:
            return
        self.lasted = self.process.poll() is None
        if self.lasted:
            self.process.send_signal(signal.SIGINT)  # it stops its own platform
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


def _meter(platform: Platform) -> CpuMeter:
    meter = CpuMeter({**{name: p.pid for name, p in platform.processes.items()}, "bench": os.getpid()})
    meter.start()
    return meter


async def _until(predicate: Callable[[], bool], deadline: float, poll: float = 0.01) -> bool:
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


# The run ----------------------------------------------------------------------------------


def run(settings: PipelineSettings, progress: Callable[[str], None] = lambda m: None) -> dict:
    base = Path(tempfile.mkdtemp(prefix="cdp-bench-pipeline-", dir=settings.data_dir))
    data_dir = base / "platform"
    config = settings.store_config(data_dir, f"bench_{uuid.uuid4().hex[:8]}_")
    extra = [] if config.kind == "sqlite" else ["--store", "postgres", "--postgres-dsn", config.postgres_dsn]
    extra += [] if config.kind == "sqlite" else ["--schema-prefix", config.schema_prefix]
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    # Each service's /metrics (and probes), to watch while the bench runs.
    probe_ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    platform = Platform(data_dir=data_dir, ports=ports, extra_args=extra, probe_ports=probe_ports)
    receiver = WebhookReceiver()
    stores: dict[str, EventStore] = {}
    sampler: LagSampler = LagSampler(data_dir) if config.kind == "sqlite" else StoreLag(stores)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # the receiver thread gets the GIL promptly
    ok = False
    try:
        progress("starting the platform...")
        platform.start_all()
        progress(
            "metrics: " + ", ".join(f"{name} http://127.0.0.1:{port}/metrics" for name, port in probe_ports.items())
        )
        url = receiver.start()
        write_key = ensure_default_source(platform, data_dir)
        stores.update({service: open_store(config, service) for service in SERVICES})
        sampler.start()
        result = asyncio.run(_run(platform, settings, write_key, url, receiver, sampler, stores, progress))
        ok = True
        return result
    finally:
        sys.setswitchinterval(switch)
        sampler.stop()
        for store in stores.values():
            store.close()
        receiver.stop()
        platform.stop()
        if ok and not settings.keep:
            shutil.rmtree(base, ignore_errors=True)
            if config.kind == "postgres":
                _drop_schemas(config)
        else:
            kept = f" and the schemas {config.schema_prefix}*" if config.kind == "postgres" else ""
            progress(f"kept {base}{kept} (service logs in {data_dir / 'logs'})")


def _drop_schemas(config: StoreConfig) -> None:
    import psycopg

    with psycopg.connect(config.postgres_dsn, autocommit=True) as conn:
        like = config.schema_prefix.replace("_", "\\_") + "%"
        names = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (like,))]
        for name in names:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


async def _run(
    platform: Platform,
    settings: PipelineSettings,
    write_key: str,
    url: str,
    receiver: WebhookReceiver,
    sampler: LagSampler,
    stores: dict[str, EventStore],
    progress,
) -> dict:
    token = platform.token("cdp-bench", BENCH_ROLES)
    connection = connect_async(platform, token=token)
    try:
        segments, destinations, identity = connection.segment, connection.activation, connection.identity
        name = "Pro plan (bench)"

        async def create_audience():
            # A retry after a failure in the backfill finds the audience that was created.
            for existing in await segments.list_audiences(timeout=10):
                if existing.name == name:
                    return existing
            return await segments.create_audience(
                name,
                [segment_pb2.Condition(trait=segment_pb2.TraitCondition(trait="plan", op="eq", value='"pro"'))],
                timeout=30,
                purpose="marketing",
            )

        async def create_destination():
            for existing in await destinations.list_destinations(timeout=10):
                if existing.url == url:
                    return existing
            return await destinations.create_destination(
                "bench webhook", url, "analytics", [audience.audience_id], timeout=30
            )

        audience = await _while_connecting(create_audience, progress)
        await _while_connecting(create_destination, progress)
        watcher = MembershipWatcher(connect_async(platform, token=token), audience.audience_id)
        watcher.start()
        try:
            await _warm_up(platform, settings, write_key, receiver, watcher, progress)
            throughput = await _throughput(platform, settings, write_key, receiver, watcher, sampler, progress)
            freshness = await _freshness(platform, settings, write_key, receiver, sampler, identity, stores, progress)
            beside: dict = {}
            if settings.neighbour and freshness:
                neighbour = Neighbour(platform.data_dir.parent / "neighbour")
                try:
                    await neighbour.start(progress)
                    beside = await _freshness(
                        platform, settings, write_key, receiver, sampler, identity, stores, progress
                    )
                finally:
                    neighbour.stop()
                beside["neighbour_sent_throughout"] = neighbour.lasted
        finally:
            await watcher.close()
    finally:
        await connection.close()
    return {
        "events": settings.events,
        "batch": settings.batch,
        "clients": settings.clients,
        "throughput": throughput,
        "freshness": freshness,
        "freshness_beside_neighbour": beside,
        "webhook": {
            "posts": receiver.posts,
            "repeated_deliveries": receiver.repeats,
            "entered_without_plan_trait": receiver.without_plan,
        },
    }


async def _while_connecting(call, progress, seconds: float = 15.0):
    """Make a call, retrying while a service cannot reach a peer yet.

    A service reports SERVING before its own channels to its peers have connected;
    a peer that was not listening yet when it first tried stays unreachable for the
    channel's reconnect backoff (a second or more), and the call fails meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except CdpError as error:
            code, details = getattr(error, "code", ""), getattr(error, "details", "") or str(error)
            transient = code == "UNAVAILABLE" or (code == "UNKNOWN" and "UNAVAILABLE" in details)
            if not transient or time.monotonic() > deadline:
                raise
            progress(f"setup: {code} ({details.splitlines()[0][:120] if details else ''}); retrying")
            await asyncio.sleep(0.25)


async def _warm_up(platform, settings, write_key, receiver, watcher, progress) -> None:
    """One pro person through the whole pipeline first: a service reports SERVING before its
    followers have (re)connected upstream, which can take a channel's reconnect backoff (~1 s)."""
    event = calls.identify(f"w-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), 0, random.Random(3), "pro")
    started = time.monotonic()
    payload = collector_pb2.IngestRequest(write_key=write_key, events=[event]).SerializeToString()
    await timed_send(lambda: ingest_connection(platform), [payload], 1)
    deadline = started + min(settings.timeout, 60)
    if not (await watcher.reached(1, deadline) and await _until(lambda: len(receiver.entered) >= 1, deadline)):
        raise RuntimeError("warm-up: one identify did not reach the webhook within 60s; see the service logs")
    progress(f"warm-up: one person through the pipeline in {(max(receiver.entered.values()) - started) * 1000:.0f} ms")


async def _throughput(platform, settings, write_key, receiver, watcher, sampler, progress) -> dict:
    run_id = f"t-{uuid.uuid4().hex[:8]}"
    events = calls.mixed(settings.events, run_id, per_person=PER_PERSON, pro_every=PRO_EVERY)
    persons = sum(1 for e in events if e.type == "identify")
    expected = sum(1 for e in events if e.type == "identify" and b'"plan":"pro"' in e.traits.encode())
    requests = calls.requests(write_key, events, settings.batch)
    del events
    progress(f"throughput: sending {settings.events} events for {persons} persons ({expected} join the audience)...")
    members_before, before = watcher.count, set(receiver.entered)
    meter = _meter(platform)
    started, acked, accepted, other = await timed_send(lambda: ingest_connection(platform), requests, settings.clients)
    progress(f"throughput: {accepted} accepted in {acked - started:.2f}s; waiting for the pipeline to drain...")
    if accepted != settings.events:
        raise RuntimeError(f"throughput: sent {settings.events}, {accepted} accepted ({other} not)")
    deadline = acked + settings.timeout
    in_segment = await watcher.reached(members_before + expected, deadline)
    delivered = await _until(lambda: len(receiver.entered) - len(before) >= expected, deadline)
    if not (in_segment and delivered):
        members, webhooks = watcher.count - members_before, len(receiver.entered) - len(before)
        raise RuntimeError(
            f"pipeline did not drain within {settings.timeout:.0f}s: {members}/{expected} members "
            f"in segment's log, {webhooks}/{expected} entered webhooks"
        )
    cpu = meter.stop()
    last_webhook = max(at for person, at in receiver.entered.items() if person not in before)
    progress(f"throughput: last webhook {last_webhook - started:.2f}s after the first send")
    return {
        "persons": persons,
        "members": expected,
        "ingest_seconds": acked - started,
        "ingest_events_per_s": accepted / (acked - started),
        "segment_seconds": watcher.last_at - started,
        "pipeline_seconds": last_webhook - started,
        "pipeline_events_per_s": accepted / (last_webhook - started),
        "drain_seconds": last_webhook - acked,
        "lag_max": sampler.between(started, last_webhook),
        "lag_at_ingest_end": sampler.at(acked),
        "cpu_percent": cpu,
        "rss_mb": {name: memory_mb(p.pid) for name, p in platform.processes.items()},
        "peak_rss_mb": {name: memory_mb(p.pid, "VmHWM") for name, p in platform.processes.items()},
        "store_mb": store_sizes(platform, settings),
    }


def store_sizes(platform: Platform, settings: PipelineSettings) -> dict[str, float]:
    """Each service's event store and read models on disk, and the key table (vault), in MiB (on
    PostgreSQL: their schemas' tables with their indexes and TOAST)."""
    config = settings.store_config(platform.data_dir, _prefix_of(platform))
    if config.kind == "sqlite":
        return {
            service: sum(f.stat().st_size for f in platform.data_dir.glob(f"{service}[.-]*sqlite*")) / 2**20
            for service in (*SERVICES, "vault")
        }
    import psycopg

    sizes: dict[str, float] = {}
    with psycopg.connect(config.postgres_dsn) as conn:
        for service in (*SERVICES, "vault"):
            schemas = [f"{config.schema_prefix}{service}", f"{config.schema_prefix}{service}_read"]
            row = conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind = 'r'",
                (schemas,),
            ).fetchone()
            sizes[service] = float(row[0] if row else 0) / 2**20  # SUM of bigints is a numeric
    return sizes


def _prefix_of(platform: Platform) -> str:
    args = platform.extra_args
    return args[args.index("--schema-prefix") + 1] if "--schema-prefix" in args else "cdp_"


async def _freshness(platform, settings, write_key, receiver, sampler, identity, stores, progress) -> dict:
    """Identify calls for new pro persons at settings.rate, in small batches on a fixed schedule."""
    if settings.freshness_seconds <= 0 or settings.rate <= 0:
        return {}
    run_id = f"f-{uuid.uuid4().hex[:8]}"
    total = max(1, int(settings.rate * settings.freshness_seconds))
    rng = random.Random(7)
    events = [calls.identify(f"{run_id}-u{i:07d}", str(uuid.uuid4()), i, rng, "pro") for i in range(total)]
    tick = 0.01  # a batch every 10 ms: at 1k events/s that is 10 calls a batch
    sent_at: dict[str, float] = {}
    in_flight: set[asyncio.Task] = set()
    failures: list[str] = []
    connection = ingest_connection(platform)
    collector = connection.collector
    await collector.channel.channel_ready()
    before = set(receiver.entered)

    async def send(chunk, payload: bytes) -> None:
        try:
            response = await collector.ingest_prepared(payload, timeout=30)
            if response.accepted != len(chunk):
                failures.append(f"{len(chunk) - response.accepted} not accepted")
        except CdpError as error:
            failures.append(f"{getattr(error, 'code', type(error).__name__)}: {getattr(error, 'details', error)}")

    progress(f"freshness: {total} identify calls for new pro persons at {settings.rate:g}/s...")
    meter = _meter(platform)
    try:
        started = time.monotonic()
        sent = 0
        while sent < total:
            # What is due by this tick goes now, as one call (or more when over --batch).
            due = min(total, int((time.monotonic() - started) * settings.rate) + 1)
            while sent < due:
                chunk = events[sent : min(due, sent + settings.batch)]
                payload = collector_pb2.IngestRequest(write_key=write_key, events=chunk).SerializeToString()
                now = time.monotonic()
                for event in chunk:
                    sent_at[event.user_id] = now
                task = asyncio.create_task(send(chunk, payload))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent += len(chunk)
            ticks = int((time.monotonic() - started) / tick) + 1
            await asyncio.sleep(max(started + ticks * tick - time.monotonic(), 0))
        sending_seconds = time.monotonic() - started
        if in_flight:
            await asyncio.gather(*in_flight)
        stopped = time.monotonic()
        progress(f"freshness: sent in {sending_seconds:.2f}s; waiting for the webhooks...")
        await _until(lambda: len(receiver.entered) - len(before) >= total, stopped + min(settings.timeout, 60))
        finished = time.monotonic()
        cpu = meter.stop()
    finally:
        await connection.close()

    # person_id of each user id, from identity, once at the end.
    person_of: dict[str, str] = {}
    user_ids = list(sent_at)
    for i in range(0, len(user_ids), 1000):
        response = await identity.resolve([("user_id", u) for u in user_ids[i : i + 1000]], timeout=30)
        for r in response.resolutions:
            person_of[r.identifier.value] = r.person_id
    latencies = []
    for user_id, at in sent_at.items():
        received = receiver.entered.get(person_of.get(user_id, ""))
        if received is not None:
            latencies.append((received - at) * 1000)
    stages = stage_breakdown(stores, sent_at, person_of, receiver.entered)
    return {
        "sent": total,
        "target_rate": settings.rate,
        "sent_rate": total / sending_seconds,
        "delivered": len(latencies),
        "missing": total - len(latencies),
        "send_failures": failures[:10],
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else float("nan"),
            "min": min(latencies) if latencies else float("nan"),
        },
        "lag_max": sampler.between(started, finished),
        "stages_ms": stages,
        "cpu_percent": cpu,
        # What each event cost each process, however long it waited: steadier than latency on a busy machine.
        "cpu_us_per_event": {name: seconds / total * 1e6 for name, seconds in meter.seconds.items()},
    }


STAGES = ("collector", "profile", "segment", "activation scheduled", "activation attempted", "webhook")


def stage_breakdown(
    stores: dict[str, EventStore], sent_at: dict[str, float], person_of: dict[str, str], received: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Where the time went: for each person, the time (ms after the send) at which each
    service wrote its part, from the times the services put in their events (ms precision,
    wall clock), read from the stores once at the end."""
    from cdp.api.activation.v1 import activation_pb2 as act
    from cdp.platform.clock import parse_iso

    offset = time.time() - time.monotonic()  # monotonic -> wall clock

    def ts(text: str) -> float:
        return parse_iso(text).timestamp()

    def rows(service: str, message):
        for n in stores[service].replay((message.DESCRIPTOR.full_name,)):
            yield message.FromString(n.state)

    users = {person: user for user, person in person_of.items() if person}
    times: dict[str, dict[str, float]] = {u: {} for u in sent_at}
    for m in rows("collector", collector_pb2.EventAccepted):
        if m.event.user_id in times:
            times[m.event.user_id].setdefault("collector", ts(m.event.received_at))
    for m in rows("profile", profile_pb2.ProfileChanged):
        if m.profile.person_id in users:
            times[users[m.profile.person_id]].setdefault("profile", ts(m.changed_at))
    for m in rows("segment", segment_pb2.MembershipEntered):
        if m.person_id in users:
            times[users[m.person_id]].setdefault("segment", ts(m.at))
    delivery_user: dict[str, str] = {}
    for m in rows("activation", act.DeliveryScheduled):
        if m.person_id in users:
            delivery_user[m.delivery_id] = users[m.person_id]
            times[users[m.person_id]].setdefault("activation scheduled", ts(m.scheduled_at))
    for m in rows("activation", act.DeliveryAttempted):
        if m.ok and m.delivery_id in delivery_user:
            times[delivery_user[m.delivery_id]].setdefault("activation attempted", ts(m.at))
    for user, person in person_of.items():
        if person in received and user in times:
            times[user]["webhook"] = received[person] + offset
    out: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        values = [(t[stage] - (sent_at[u] + offset)) * 1000 for u, t in times.items() if stage in t]
        out[stage] = {"p50": percentile(values, 50), "p99": percentile(values, 99), "count": len(values)}
    return out
