"""RabbitMQ: each message published persistent, with publisher confirms, `message_id` = the
delivery id (consumers deduplicate by it), to an exchange with a routing key.

Publishes are mandatory: a message no queue is bound to receive comes back (basic.return) and is
a failed Outcome, as is a broker's nack; both are worth retrying (a binding may be added, a full
queue drained). A send() publishes its messages together and waits for every confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cdp.activation.destinations import fields
from cdp.activation.destinations.guard import refuse_local
from cdp.activation.destinations.port import Message, Outcome

KIND = "rabbitmq"
SECRET_FIELDS = ("password",)
FIELDS = ("url", "username", "exchange", "routing_key", "timeout_s", *SECRET_FIELDS)


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    fields.server_url(config, "url", ("amqp", "amqps"))
    fields.text(config, "username", "guest", max_len=255)
    fields.text(config, "password", "guest", max_len=255)
    fields.text(config, "exchange", "", max_len=255)
    fields.required_text(config, "routing_key", max_len=255)
    fields.number(config, "timeout_s", 10.0, 0.1, 120.0)


class RabbitMqDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        merged = {**config, **secrets}
        check_config(merged)
        self.local = local
        self._url = str(merged["url"])
        self._login = fields.text(merged, "username", "guest")
        self._password = fields.text(merged, "password", "guest")
        self._exchange_name = fields.text(merged, "exchange", "")
        self._routing_key = str(merged["routing_key"])
        self._timeout = fields.number(merged, "timeout_s", 10.0, 0.1, 120.0)
        self._connection: Any = None
        self._exchange: Any = None

    async def _open(self) -> Any:
        import aio_pika

        if self._connection is None or self._connection.is_closed:
            if not self.local:
                await asyncio.to_thread(refuse_local, urlsplit(self._url).hostname or "")
            self._connection = await aio_pika.connect(
                self._url, login=self._login, password=self._password, timeout=self._timeout
            )
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            if self._exchange_name:
                self._exchange = await channel.get_exchange(self._exchange_name, ensure=True)
            else:
                self._exchange = channel.default_exchange
        return self._exchange

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        import aio_pika
        from aio_pika import exceptions

        started = time.perf_counter()
        try:
            exchange = await self._open()
        except (exceptions.AMQPError, OSError, TimeoutError, RuntimeError) as failure:
            await self._drop()
            error = _error(failure, self._exchange_name)
            return [Outcome(False, error=error, latency_ms=_ms(started)) for _ in messages]

        async def publish(message: Message) -> Outcome:
            amqp = aio_pika.Message(
                message.body,
                message_id=message.delivery_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
                headers={"action": message.action, "person_key": message.person_key},
            )
            try:
                await exchange.publish(amqp, routing_key=self._routing_key, mandatory=True, timeout=self._timeout)
            except exceptions.PublishError:
                return Outcome(False, error="returned: no queue is bound to the routing key", latency_ms=_ms(started))
            except exceptions.DeliveryError:
                return Outcome(False, error="nacked by the broker", latency_ms=_ms(started))
            except (exceptions.AMQPError, OSError, TimeoutError, RuntimeError) as failure:
                return Outcome(False, error=_error(failure, self._exchange_name), latency_ms=_ms(started))
            return Outcome(True, latency_ms=_ms(started))

        outcomes = list(await asyncio.gather(*(publish(m) for m in messages)))
        if any(not o.ok and not o.error.startswith(("returned", "nacked")) for o in outcomes):
            await self._drop()  # the channel or connection broke: open new ones next time
        return outcomes

    async def _drop(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        await self._drop()


def _error(failure: BaseException, exchange: str) -> str:
    from aio_pika import exceptions

    if isinstance(failure, exceptions.ChannelNotFoundEntity):
        return f"exchange {exchange!r} does not exist"
    return f"{type(failure).__name__}: {failure}"[:300]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
