"""Over real sockets: slow clients cannot starve the tracking API.

100 connections send their headers and then a byte a second; meanwhile good /v1/track and
/v1/batch requests, from the same address and from another, are answered 200 in bounded time,
and the server closes every slow connection within the body timeout. Headers that trickle in
are cut off by the header timeout. Timeouts are shortened so that this takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.collector import http_api
from cdp.collector.application import Collector
from cdp.platform import config as config_module
from cdp.platform.decisions import open_decider
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.published import decode
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork

LIMITS = http_api.Limits(header_timeout_s=2.0, body_timeout_s=2.0, body_grace_s=0.2, unfinished_per_address=8)
SLOW_BODIES, SLOW_HEADERS = 100, 10
GOOD_WITHIN_S = 1.0  # the bound on a good request's answer while the slow ones trickle
CLOSED_WITHIN_S = LIMITS.body_timeout_s + 1.0  # a slow connection is closed by the server by then
OTHER_ADDRESS = "127.0.0.2"  # loopback: every 127.x address reaches the server on 127.0.0.1


@pytest.fixture
def collector(tmp_path):
    config = config_module.load("collector", ["--data-dir", str(tmp_path)])
    store = open_store(config.store, "collector")
    uow = UnitOfWork(store, open_decider(config, store))
    yield Collector(uow, PersonalData(open_vault(config), uow.decider))
    store.close()


def request_bytes(path: str, body: bytes, key: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: collector\r\nX-Write-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def trickle(port: int, first: bytes, then: bytes) -> tuple[float, bytes]:
    """Send first, then a byte a second from then, until the server closes the connection:
    how many seconds it stayed open, and what the server answered."""
    started, answer = time.monotonic(), b""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    try:
        for i in range(int(CLOSED_WITHIN_S * 3)):
            writer.write(then[i % len(then) : i % len(then) + 1])
            await writer.drain()
            try:
                while chunk := await asyncio.wait_for(reader.read(4096), 1.0):
                    answer += chunk
                break  # the server closed it
            except TimeoutError:
                continue
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def good_request(port: int, path: str, body: bytes, key: str, local: str) -> tuple[int, float]:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    try:
        writer.write(request_bytes(path, body, key))
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1]), time.monotonic() - started
    finally:
        writer.close()


def test_slow_clients_do_not_starve_good_requests_and_are_closed(collector):
    key = collector.create_source("web", server_side=True).write_key
    sent: list[str] = []

    def call() -> dict:
        sent.append(f"m-{uuid.uuid4()}")
        return {"type": "track", "messageId": sent[-1], "userId": "u1", "event": "Clicked"}

    async def scenario():
        runner = await http_api.start_http(collector, "127.0.0.1", 0, LIMITS)
        port = runner.addresses[0][1]
        try:
            slow_head = request_bytes("/v1/batch", b"", key).replace(b"Content-Length: 0", b"Content-Length: 1000")
            slow = [asyncio.create_task(trickle(port, slow_head, b" ")) for _ in range(SLOW_BODIES)]
            headers = [
                asyncio.create_task(trickle(port, b"POST /v1/track HTTP/1.1\r\n", b"X-Slow: yes\r\n"))
                for _ in range(SLOW_HEADERS)
            ]
            await asyncio.sleep(0.5)  # all slow connections open, their bodies unfinished
            answers = []
            deadline = time.monotonic() + LIMITS.body_timeout_s
            while time.monotonic() < deadline:
                for local in ("127.0.0.1", OTHER_ADDRESS):
                    answers.append(await good_request(port, "/v1/track", json.dumps(call()).encode(), key, local))
                    batch = json.dumps({"batch": [call(), call()]}).encode()
                    answers.append(await good_request(port, "/v1/batch", batch, key, local))
                await asyncio.sleep(0.1)
            return answers, await asyncio.gather(*slow), await asyncio.gather(*headers)
        finally:
            await runner.cleanup()

    answers, slow, headers = asyncio.run(scenario())
    assert len(answers) >= 20
    assert [status for status, _ in answers] == [200] * len(answers)
    slowest = max(seconds for _, seconds in answers)
    assert slowest < GOOD_WITHIN_S, f"a good request took {slowest:.2f} s"

    slowest_close = max(seconds for seconds, _ in slow)
    assert slowest_close < CLOSED_WITHIN_S, f"a slow body's connection stayed open {slowest_close:.1f} s"
    # Beyond the bound of unfinished bodies an address is turned away at once, told to retry.
    statuses = sorted(answer.split(b" ", 2)[1].decode() for _, answer in slow)
    bound = LIMITS.unfinished_per_address
    assert statuses == ["408"] * bound + ["429"] * (SLOW_BODIES - bound)
    turned_away = [(seconds, answer) for seconds, answer in slow if b" 429 " in answer]
    assert all(b"Retry-After: 1" in answer for _, answer in turned_away)
    assert max(seconds for seconds, _ in turned_away) < LIMITS.body_grace_s + 1.0

    held = max(seconds for seconds, _ in headers)
    assert held < LIMITS.header_timeout_s + 1.0, f"trickling headers held a connection {held:.1f} s"
    stored = [
        decode(n.topic, n.state).event.message_id
        for n in collector.store.read(0, 10_000, [pb.EventAccepted.DESCRIPTOR.full_name])
    ]
    assert sorted(stored) == sorted(sent)


def test_a_body_that_does_not_come_gets_408_and_the_connection_closed(collector):
    key = collector.create_source("web", server_side=True).write_key

    async def scenario():
        runner = await http_api.start_http(collector, "127.0.0.1", 0, LIMITS)
        port = runner.addresses[0][1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request_bytes("/v1/track", b"", key).replace(b"Content-Length: 0", b"Content-Length: 10"))
            started = time.monotonic()
            answer = await asyncio.wait_for(reader.read(), CLOSED_WITHIN_S)  # to EOF: the server closed
            writer.close()
            return answer, time.monotonic() - started
        finally:
            await runner.cleanup()

    answer, seconds = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"body: not received within 2 s" in answer
    assert LIMITS.body_timeout_s - 0.5 < seconds < CLOSED_WITHIN_S


def test_callers_that_go_away_mid_body_are_logged_rarely_and_stored_nothing(collector, caplog):
    key = collector.create_source("web", server_side=True).write_key
    body = json.dumps({"type": "track", "event": "Gone", "userId": "u-gone", "messageId": "m-gone"}).encode()

    async def scenario():
        runner = await http_api.start_http(collector, "127.0.0.1", 0, LIMITS)
        port = runner.addresses[0][1]
        try:
            for _ in range(20):  # past the grace, then a reset: the body never comes whole
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request_bytes("/v1/track", body, key)[:-5])
                await writer.drain()
                await asyncio.sleep(LIMITS.body_grace_s + 0.1)
                writer.transport.abort()
            await asyncio.sleep(0.2)
            status, _ = await good_request(port, "/v1/track", body, key, "127.0.0.1")
            return status
        finally:
            await runner.cleanup()

    with caplog.at_level("INFO", logger="cdp.collector.http_api"):
        assert asyncio.run(scenario()) == 200  # and the collector still serves
    records = [r for r in caplog.records if r.name == "cdp.collector.http_api"]
    assert not [r for r in records if r.levelname == "ERROR"], [r.getMessage() for r in records]
    assert 1 <= len([r for r in records if "went away" in r.getMessage()]) <= 3  # not one a caller
    stored = [decode(n.topic, n.state) for n in collector.uow.store.read(0, 100)]
    assert len([m for m in stored if getattr(m, "event", None) and m.event.message_id == "m-gone"]) == 1
