"""The NATS JetStream kind against the real server (4222, JetStream on), with a stream of the test's own."""

from __future__ import annotations

import asyncio

import nats
import pytest

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.platform.errors import InvalidArgument

from .conftest import need


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


URL = "nats://127.0.0.1:4222"


@pytest.fixture(autouse=True)
def server():
    need("nats")


async def _with_stream(name: str, body):
    client = await nats.connect(URL)
    js = client.jetstream()
    await js.add_stream(name=name, subjects=[f"{name}.>"], duplicate_window=120)
    destination = open_local("nats", {"url": URL, "stream": name, "subject": f"{name}.members"}, {})
    try:
        return await body(destination, js)
    finally:
        await destination.close()
        await js.delete_stream(name)
        await client.close()


def test_stored_with_the_delivery_id_and_a_duplicate_publish_is_deduplicated(unique, message):
    sent = [message(f"p{i}") for i in range(5)]

    async def body(destination, js):
        first = await destination.send(sent)
        again = await destination.send(sent[:2])  # a retry after a lost PubAck
        info = await js.stream_info(unique)
        consumer = await js.pull_subscribe(f"{unique}.members", durable="check")
        got = await consumer.fetch(10, timeout=2)
        for m in got:
            await m.ack()
        return first, again, info.state.messages, got

    first, again, stored, got = asyncio.run(_with_stream(unique, body))
    assert all(o.ok and not o.extra["duplicate"] for o in first)
    assert all(o.ok and o.extra["duplicate"] for o in again)
    assert [o.extra["seq"] for o in again] == [o.extra["seq"] for o in first[:2]]
    assert stored == 5
    assert [m.headers["Nats-Msg-Id"] for m in got] == [m.delivery_id for m in sent]
    assert got[0].data == sent[0].body


def test_no_stream_on_the_subject_is_a_retryable_outcome(unique, message):
    async def go():
        destination = open_local("nats", {"url": URL, "stream": unique, "subject": f"{unique}.x", "timeout_s": 2}, {})
        try:
            return await destination.send([message()])
        finally:
            await destination.close()

    (outcome,) = asyncio.run(go())
    assert not outcome.ok and outcome.retryable and "no stream" in outcome.error


def test_the_wrong_stream_is_refused(unique, message):
    async def body(destination, js):
        other = open_local("nats", {"url": URL, "stream": f"{unique}_other", "subject": f"{unique}.members"}, {})
        try:
            return await other.send([message()])
        finally:
            await other.close()

    (outcome,) = asyncio.run(_with_stream(unique, body))
    assert not outcome.ok and outcome.retryable and outcome.status == 400


def test_a_server_that_is_not_there_is_a_retryable_outcome(message):
    async def go():
        destination = open_local(
            "nats", {"url": "nats://127.0.0.1:1", "stream": "s", "subject": "s.x", "timeout_s": 1}, {}
        )
        try:
            return await destination.send([message()])
        finally:
            await destination.close()

    (outcome,) = asyncio.run(go())
    assert not outcome.ok and outcome.retryable


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"stream": "s", "subject": "s.>"}, "config.subject: must be a literal subject"),
        ({"stream": "a.b", "subject": "s.x"}, "config.stream: must not hold"),
        ({"subject": "s.x"}, "config.stream: is required"),
        ({"stream": "s", "subject": "s.x", "url": "nats://u:p@127.0.0.1"}, "config.url: must not hold credentials"),
    ],
)
def test_bad_configurations_name_the_field(config, error):
    with pytest.raises(InvalidArgument) as refused:
        check_config("nats", {"url": URL, **config})
    assert str(refused.value).startswith(error)
