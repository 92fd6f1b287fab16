"""Collector replicas on one PostgreSQL store behave as one collector.

Three collector processes share the machine's PostgreSQL schema: what one of them changes
(a source, a plan, an assignment, a disable) is in force on the others within a second; the
same batch sent to all three at once is stored once; their decision records never collide,
and the decision chain they extend together stays whole.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.audit.records import Recorded, chain_breaks
from cdp.client import CdpError, CollectorClient, Connection, Unauthenticated
from cdp.platform.config import SERVICES, StoreConfig
from cdp.platform.launcher import free_ports, wait_serving
from cdp.platform.published import decode, topic_of
from cdp.platform.security import credentials
from cdp.platform.store import open_store
from conftest import drop_schemas, postgres_dsn
from support.calls import event

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
REPLICAS = 3
TS = "2026-11-30T10:00:00Z"


@pytest.fixture
def replicas(tmp_path):
    dsn = postgres_dsn()
    prefix = f"r{uuid.uuid4().hex[:8]}_"
    credentials(tmp_path)  # one CA for all, made before the processes race to
    ports = free_ports(REPLICAS)
    # Their peers, on free ports nobody serves: never a platform on the default ports.
    peers = [f"--{peer}-addr={address}" for peer, address in unserved_peers().items()]
    processes, logs = [], [tmp_path / f"collector-{index}.log" for index in range(REPLICAS)]
    for port, log_path in zip(ports, logs, strict=True):
        with open(log_path, "ab") as log:  # the process keeps its own copy
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cdp.collector",
                        "--data-dir",
                        str(tmp_path),
                        "--port",
                        str(port),
                        "--store",
                        "postgres",
                        "--postgres-dsn",
                        dsn,
                        "--schema-prefix",
                        prefix,
                        *peers,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    connections = [
        Connection.from_credentials(
            tmp_path,
            subject="ops@example.com",
            roles=["admin"],
            ttl_s=600,
            addresses={"collector": f"127.0.0.1:{port}"},
        )
        for port in ports
    ]
    collectors = [c.collector for c in connections]
    try:
        deadline, probe = time.monotonic() + 60, credentials(tmp_path).client("cli")
        watched = {f"collector-{i}": pair for i, pair in enumerate(zip(processes, logs, strict=True))}
        for port in ports:
            wait_serving("collector", f"127.0.0.1:{port}", probe, watched, deadline)
        yield collectors, StoreConfig(kind="postgres", data_dir=tmp_path, postgres_dsn=dsn, schema_prefix=prefix)
    finally:
        for connection in connections:
            connection.close()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_schemas(dsn, prefix)


def unserved_peers() -> dict[str, str]:
    """An address on a free port for each of the collector's peers (the replicas run alone)."""
    peers = [s for s in SERVICES if s != "collector"]
    return {peer: f"127.0.0.1:{port}" for peer, port in zip(peers, free_ports(len(peers)), strict=True)}


def until(check, timeout: float = 5.0):
    """Seconds until check() is true (raises after timeout)."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except CdpError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError("not in force on the other replica in time")
        time.sleep(0.02)


def ingest(collector: CollectorClient, write_key: str, events) -> collector_pb2.IngestResponse:
    return collector.ingest(write_key, events, timeout=30)


def test_replicas_share_sources_and_plans_within_a_second(replicas):
    (first, second, third), _ = replicas
    source = first.create_source("web")
    track = [event("track", "m1", TS, user_id="u1", event="Viewed")]
    assert until(lambda: ingest(third, source.write_key, track).accepted == 1) < 1.0

    plan = '{"events": {"Viewed": {"type": "object", "required": ["page"]}}}'
    second.publish_plan("shop", plan)
    third.assign_plan("web", "shop", "reject")
    later = [event("track", "m2", TS, user_id="u1", event="Viewed")]
    assert until(lambda: ingest(first, source.write_key, later).rejected == 1) < 1.0

    second.disable_source("web")

    def refused() -> bool:
        try:
            ingest(first, source.write_key, later)
        except Unauthenticated:
            return True
        return False

    assert until(refused) < 1.0


def test_one_batch_sent_to_every_replica_at_once_is_stored_once(replicas):
    stubs, store_config = replicas
    source = stubs[0].create_source("web")
    until(lambda: all(ingest(s, source.write_key, []).accepted == 0 for s in stubs))
    until(lambda: all(s.list_sources() for s in stubs))
    batch = [event("track", f"m{n}", TS, user_id=f"u{n % 7}", event="Viewed", properties={"n": n}) for n in range(50)]
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda i: ingest(stubs[i % REPLICAS], source.write_key, batch), range(10)))
    assert sum(r.accepted for r in replies) == len(batch)
    assert sum(r.duplicates for r in replies) == 9 * len(batch)

    store = open_store(store_config, "collector")
    try:
        stored = store.read(0, 10_000, topic_of(collector_pb2.EventAccepted))
        assert len(stored) == len(batch)  # stored events, not distinct ids
        records = [
            Recorded("collector", n.id, decode(n.topic, n.state))
            for n in store.read(0, 10_000, topic_of(decision_pb2.DecisionRecorded))
        ]
    finally:
        store.close()
    assert records and chain_breaks(records) == []
