"""The Redis stream kind against the real server (6379), under a key prefix of the test's own."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.platform.errors import InvalidArgument

from .conftest import need


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def server():
    need("redis")


def _run(unique: str, body, **config):
    async def go():
        client = redis.asyncio.Redis.from_url(URL)
        destination = open_local("redis", {"url": URL, "stream": f"{unique}:out", **config}, {})
        try:
            return await body(destination, client)
        finally:
            await destination.close()
            keys = [k async for k in client.scan_iter(match=f"{unique}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    return asyncio.run(go())


def test_entries_carry_the_fields_and_a_retry_adds_no_second_entry(unique, message):
    sent = [message(f"p{i}", "entered") for i in range(5)]

    async def body(destination, client):
        first = await destination.send(sent)
        again = await destination.send(sent[1:3])
        entries = await client.xrange(f"{unique}:out")
        ttl = await client.ttl(destination.dedup_key(sent[0].delivery_id))
        return first, again, entries, ttl

    first, again, entries, ttl = _run(unique, body)
    assert all(o.ok and not o.extra["duplicate"] for o in first)
    assert all(o.ok and o.extra["duplicate"] for o in again)
    assert [o.extra["entry_id"] for o in again] == [o.extra["entry_id"] for o in first[1:3]]
    assert len(entries) == 5
    entry_id, fields = entries[0]
    assert entry_id.decode() == first[0].extra["entry_id"]
    assert fields == {
        b"delivery_id": sent[0].delivery_id.encode(),
        b"action": b"entered",
        b"person_key": b"p0",
        b"body": sent[0].body,
    }
    assert 0 < ttl <= 7 * 24 * 3600


def test_maxlen_trims_the_stream(unique, message):
    async def body(destination, client):
        for _ in range(10):
            await destination.send([message() for _ in range(100)])
        return await client.xlen(f"{unique}:out")

    length = _run(unique, body, maxlen=100)
    assert 100 <= length < 300  # approximate trimming keeps whole nodes


def test_a_key_of_another_type_fails_each_message_and_nothing_is_added(unique, message):
    async def body(destination, client):
        await client.set(f"{unique}:out", "not a stream")
        return await destination.send([message(), message()])

    outcomes = _run(unique, body)
    assert [o.ok for o in outcomes] == [False, False] and "WRONGTYPE" in outcomes[0].error


def test_a_server_that_is_not_there_is_a_retryable_outcome(message):
    async def go():
        destination = open_local("redis", {"url": "redis://127.0.0.1:1/0", "stream": "s", "timeout_s": 1}, {})
        try:
            return await destination.send([message()])
        finally:
            await destination.close()

    (outcome,) = asyncio.run(go())
    assert not outcome.ok and outcome.retryable


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"url": "http://127.0.0.1/", "stream": "s"}, "config.url: must be a redis:// or rediss:// URL"),
        ({"url": "redis://:secret@127.0.0.1/", "stream": "s"}, "config.url: must not hold credentials"),
        ({"url": URL}, "config.stream: is required"),
        ({"url": URL, "stream": "s", "maxlen": -1}, "config.maxlen: must be between"),
        ({"url": URL, "stream": "s", "dedup_ttl_s": 1}, "config.dedup_ttl_s: must be between"),
    ],
)
def test_bad_configurations_name_the_field(config, error):
    with pytest.raises(InvalidArgument) as refused:
        check_config("redis", config)
    assert str(refused.value).startswith(error)
