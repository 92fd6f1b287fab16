"""Several collector processes on one port and one SQLite store (what `cdp up` and `cdp bench
ingest` start on a machine with several cores): connections spread over them, a source created
through one is known to all at once, and a batch sent to several is stored once."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.client.local import connect
from support.calls import event
from support.platform_fixture import free_ports, log_tails, new_platform

TS = "2025-03-01T00:00:00.000Z"
CONNECTIONS = 16  # all on one process by chance: 2 ** -15


@pytest.fixture(scope="module")
def two_collectors(tmp_path_factory):
    platform = new_platform(tmp_path_factory.mktemp("collector-processes"))
    platform.collector_processes = 2
    platform.http_port = free_ports(1)[0]  # shared by both too
    try:
        platform.start("collector")
        platform.wait_healthy(["collector"], timeout=60)
    except (RuntimeError, TimeoutError) as error:
        platform.stop()
        raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
    yield platform
    platform.stop()


def established_on(pid: int, port: int) -> int:
    """The TCP connections process pid holds, established on local port `port`."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
                if local_port == port and state == "01" and inode in inodes:
                    count += 1
    return count


def accepted_stored(platform) -> int:
    with sqlite3.connect(f"file:{platform.data_dir / 'collector.sqlite'}?mode=ro", uri=True) as db:
        topic = collector_pb2.EventAccepted.DESCRIPTOR.full_name
        return int(db.execute("SELECT COUNT(*) FROM stored_events WHERE topic=?", (topic,)).fetchone()[0])


def test_connections_spread_over_both_and_each_serves_a_source_made_through_another(two_collectors):
    platform = two_collectors
    assert set(platform.processes) == {"collector", "collector-2"}
    with connect(platform) as admin:
        write_key = admin.collector.create_source("web", server_side=True).write_key
    connections = [connect(platform, "sender", ("ingest",)) for _ in range(CONNECTIONS)]
    try:
        for i, cdp in enumerate(connections):  # at once: no wait for the other process to catch up
            response = cdp.collector.ingest(write_key, [event("track", f"m{i}", TS, user_id=f"u{i}", event="Viewed")])
            assert response.accepted == 1, response
        port = platform.ports["collector"]
        served = {name: established_on(p.pid, port) for name, p in platform.processes.items()}
        assert all(served.values()), f"a process got no connection: {served}"
        for i in range(4):  # and over HTTP, on the port they share
            body = json.dumps(
                {
                    "writeKey": write_key,
                    "batch": [
                        {"type": "track", "messageId": f"h{i}", "userId": "u1", "event": "Viewed", "timestamp": TS}
                    ],
                }
            ).encode()
            url = f"http://127.0.0.1:{platform.http_port}/v1/batch"
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
        for name, process in platform.processes.items():
            assert process.poll() is None, f"{name} exited; see {platform.log_path(name)}"
    finally:
        for cdp in connections:
            cdp.close()


def test_a_follower_reading_one_process_sees_calls_stored_by_the_other_within_a_moment(two_collectors):
    """A follower's long poll is served by one process; a call the other stored wakes it within a
    poll of the shared store, not when its wait runs out (up to a second at a low rate)."""
    platform = two_collectors
    with connect(platform) as admin:
        write_key = admin.collector.create_source("follow", server_side=True).write_key
    topic = collector_pb2.EventAccepted.DESCRIPTOR.full_name
    connections = [connect(platform, "sender", ("ingest",)) for _ in range(CONNECTIONS)]
    try:
        with connect(platform) as reader, ThreadPoolExecutor(1) as pool:
            log = reader.eventlog("collector")
            waits = []
            for i, cdp in enumerate(connections):
                after = log.read(0, 1).head
                read = pool.submit(log.read, after, 10, wait_ms=10_000, topics=[topic])
                time.sleep(0.05)  # the read is waiting
                sent = time.monotonic()
                cdp.collector.ingest(write_key, [event("track", f"f{i}", TS, user_id=f"f{i}", event="Viewed")])
                response = read.result(timeout=30)
                waits.append(time.monotonic() - sent)
                assert [n.topic for n in response.notifications] == [topic]
        port = platform.ports["collector"]
        served = {name: established_on(p.pid, port) for name, p in platform.processes.items()}
        assert all(served.values()), f"a process got no connection: {served}"
        assert max(waits) < 1.0, sorted(waits)
    finally:
        for cdp in connections:
            cdp.close()


def test_a_batch_sent_to_every_process_at_once_is_stored_once(two_collectors):
    platform = two_collectors
    with connect(platform) as admin:
        write_key = admin.collector.create_source("app", server_side=True).write_key
    batch = [
        event("identify", f"dup-{i}", TS, user_id=f"d{i}", traits={"email": f"d{i}@processes.test"}) for i in range(50)
    ]
    before = accepted_stored(platform)
    connections = [connect(platform, "sender", ("ingest",)) for _ in range(CONNECTIONS)]
    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            responses = list(pool.map(lambda c: c.collector.ingest(write_key, batch), connections))
    finally:
        for cdp in connections:
            cdp.close()
    assert sum(r.accepted for r in responses) == len(batch)
    assert sum(r.duplicates for r in responses) == len(batch) * (CONNECTIONS - 1)
    assert accepted_stored(platform) == before + len(batch)
    with sqlite3.connect(f"file:{platform.data_dir / 'collector.sqlite'}?mode=ro", uri=True) as db:
        plain = db.execute(
            "SELECT COUNT(*) FROM stored_events WHERE instr(state, ?)", (b"@processes.test",)
        ).fetchone()[0]
        assert plain == 0, "a personal value is stored in clear"
    for name, process in platform.processes.items():
        assert process.poll() is None, f"{name} exited; see {platform.log_path(name)}"


def test_violations_sent_through_both_are_counted_once_and_either_answers(two_collectors):
    """Both processes keep the one quality read model: each call is counted once, whichever
    process stored it, applied it or is asked."""
    platform = two_collectors
    with connect(platform) as admin:
        admin.collector.publish_plan("empty", {"events": {}})
        write_key = admin.collector.create_source("checked", server_side=True).write_key
        admin.collector.assign_plan("checked", "empty", "allow")
    time.sleep(1.0)  # an assignment is in force on the other processes within a second (not at once)
    senders = [connect(platform, "sender", ("ingest",)) for _ in range(CONNECTIONS)]
    askers = [connect(platform) for _ in range(CONNECTIONS)]
    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            calls = [
                [event("track", f"q{i}-{j}", TS, user_id=f"u{i}", event="Unplanned") for j in range(5)]
                for i in range(CONNECTIONS)
            ]
            responses = list(
                pool.map(lambda c: c[0].collector.ingest(write_key, c[1]), zip(senders, calls, strict=True))
            )
        assert sum(r.accepted for r in responses) == 5 * CONNECTIONS
        counts = [[k.count for k in cdp.quality.list_violations("checked").kinds] for cdp in askers]
        assert counts == [[5 * CONNECTIONS]] * CONNECTIONS
    finally:
        for cdp in senders + askers:
            cdp.close()
