"""The RabbitMQ kind against the real broker (guest/guest on 5672), with a queue of the test's own."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.platform.errors import InvalidArgument

from .conftest import need


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


URL = "amqp://127.0.0.1:5672/"


@pytest.fixture(autouse=True)
def broker():
    need("rabbitmq")


async def _queue(channel, name: str, exchange: str = ""):
    queue = await channel.declare_queue(name, auto_delete=False, durable=True)
    if exchange:
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.DIRECT, auto_delete=True)
        await queue.bind(ex, routing_key=name)
    return queue


async def _drain(queue, count: int) -> list:
    got = []
    for _ in range(count):
        incoming = await queue.get(timeout=5)
        await incoming.ack()
        got.append(incoming)
    return got


def test_published_persistent_and_confirmed_with_the_delivery_id(unique, message):
    sent = [message(f"p{i}") for i in range(10)]

    async def go():
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        queue = await _queue(channel, unique, exchange=unique)
        destination = open_local("rabbitmq", {"url": URL, "exchange": unique, "routing_key": unique}, {})
        try:
            outcomes = await destination.send(sent)
            got = await _drain(queue, len(sent))
            return outcomes, got
        finally:
            await destination.close()
            await queue.delete(if_unused=False, if_empty=False)
            await connection.close()

    outcomes, got = asyncio.run(go())
    assert all(o.ok for o in outcomes)
    assert [g.message_id for g in got] == [m.delivery_id for m in sent]
    assert all(g.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for g in got)
    assert got[0].body == sent[0].body and got[0].headers["action"] == "upsert"


def test_an_unroutable_message_comes_back_as_a_failed_outcome(unique, message):
    async def go():
        destination = open_local("rabbitmq", {"url": URL, "routing_key": f"{unique}.nobody"}, {})
        try:
            return await destination.send([message(), message()])
        finally:
            await destination.close()

    outcomes = asyncio.run(go())
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True), (False, True)]
    assert outcomes[0].error.startswith("returned")


def test_a_nack_is_a_failed_outcome(unique, message):
    # A queue that rejects what it has no room for: the broker nacks the publish.
    async def go():
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        queue = await channel.declare_queue(
            unique, durable=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        destination = open_local("rabbitmq", {"url": URL, "routing_key": unique}, {})
        try:
            first = await destination.send([message()])
            second = await destination.send([message()])
            return first, second
        finally:
            await destination.close()
            await queue.delete(if_unused=False, if_empty=False)
            await connection.close()

    first, second = asyncio.run(go())
    assert first[0].ok
    assert not second[0].ok and second[0].retryable and second[0].error.startswith("nacked")


def test_a_missing_exchange_and_a_broker_that_is_not_there_are_failed_outcomes(unique, message):
    async def go(config):
        destination = open_local("rabbitmq", config, {})
        try:
            return await destination.send([message()])
        finally:
            await destination.close()

    (missing,) = asyncio.run(go({"url": URL, "exchange": f"{unique}.none", "routing_key": "x"}))
    assert not missing.ok and "does not exist" in missing.error
    (down,) = asyncio.run(go({"url": "amqp://127.0.0.1:1/", "routing_key": "x", "timeout_s": 2}))
    assert not down.ok and down.retryable
    (wrong,) = asyncio.run(go({"url": URL, "routing_key": "x", "password": "not-guest"}))
    assert not wrong.ok and wrong.retryable


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"url": "http://127.0.0.1/", "routing_key": "q"}, "config.url: must be a amqp:// or amqps:// URL"),
        ({"url": "amqp://guest:guest@127.0.0.1/", "routing_key": "q"}, "config.url: must not hold credentials"),
        ({"url": URL}, "config.routing_key: is required"),
        ({"url": URL, "routing_key": "q", "exchange": 5}, "config.exchange: must be a string"),
    ],
)
def test_bad_configurations_name_the_field(config, error):
    with pytest.raises(InvalidArgument) as refused:
        check_config("rabbitmq", config)
    assert str(refused.value).startswith(error)
