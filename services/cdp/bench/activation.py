"""`cdp bench activation`: each destination kind against its real server on this machine.

Per kind and batch size, `messages` deliveries are sent in send() calls of that many messages, one
after another; the figures are deliveries/s over the whole run and p50/p99 of one send()'s latency.
The webhook goes to a local aiohttp receiver that verifies every signature (a failed verification
fails the run); PostgreSQL writes to a schema of its own, RabbitMQ to a queue of its own, NATS to a
stream of its own, Redis to a stream key of its own and the file kind to a temporary directory, each
removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from cdp.activation.destinations.port import Destination, Message
from cdp.activation.destinations.registry import KINDS, open_destination
from cdp.activation.destinations.webhook import new_webhook_secret
from cdp.bench.report import percentile


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class SignedReceiver:
    """A loopback webhook endpoint that verifies Standard Webhooks signatures with its secret:
    a delivery that does not verify is answered 400 and counted in `rejected`; one that does is
    recorded and answered with its delivery's Answer in `by_id`, else the next scripted Answer
    (200 when none is left)."""

    def __init__(self, secret: str):
        self.verifier = Webhook(secret)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.rejected = 0
        self.script: list[Answer] = []
        self.by_id: dict[str, Answer] = {}  # answers for given deliveries, before the script
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            self.verifier.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400, text="signature does not verify")
        self.received.append((headers, body))
        answer = self.by_id.get(headers["webhook-id"]) or (self.script.pop(0) if self.script else Answer())
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(status=answer.status, headers=answer.headers)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class ActivationSettings:
    messages: int = 2000
    batches: tuple[int, ...] = (1, 100)
    kinds: tuple[str, ...] = KINDS
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    rabbitmq_url: str = "amqp://127.0.0.1:5672/"
    nats_url: str = "nats://127.0.0.1:4222"
    redis_url: str = "redis://127.0.0.1:6379/0"


def messages(count: int, run: str) -> list[Message]:
    at = datetime.now(UTC).isoformat()
    out = []
    for i in range(count):
        record = {"plan": "pro" if i % 2 else "free", "seats": i % 50, "company": f"Company {i % 97}"}
        delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{i}"))
        body = json.dumps({"delivery_id": delivery_id, "type": "audience.entered", "traits": record}).encode()
        out.append(Message(delivery_id, f"person-{i}", "entered" if i % 5 else "upsert", record, body, at))
    return out


async def _timed(destination: Destination, batch: list[Message]) -> float:
    started = time.perf_counter()
    outcomes = await destination.send(batch)
    elapsed = (time.perf_counter() - started) * 1000
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{destination.kind}: {len(failed)} of {len(batch)} deliveries failed: {failed[0].error}")
    return elapsed


async def measure(destination: Destination, batch_size: int, count: int, run: str) -> dict[str, Any]:
    sent = messages(count, run)
    await _timed(destination, sent[:1])  # connect, create tables and streams before the clock starts
    latencies = []
    started = time.perf_counter()
    for start in range(1, count, batch_size):
        latencies.append(await _timed(destination, sent[start : start + batch_size]))
    seconds = time.perf_counter() - started
    return {
        "batch": batch_size,
        "deliveries": count - 1,
        "deliveries_per_s": (count - 1) / seconds,
        "send_p50_ms": percentile(latencies, 50),
        "send_p99_ms": percentile(latencies, 99),
    }


async def _kind(kind: str, settings: ActivationSettings, batch: int, work_dir: str, log: Callable[[str], None]) -> dict:
    tag = f"bench_dest_{uuid.uuid4().hex[:8]}"
    cleanup: list[Callable[[], Any]] = []
    receiver: SignedReceiver | None = None
    config: dict[str, Any]
    if kind == "webhook":
        secret = new_webhook_secret()
        receiver = SignedReceiver(secret)
        config = {"url": await receiver.start(), "secret": secret, "max_connections": 64}
        cleanup.append(receiver.stop)
    elif kind == "postgres":
        config = {"dsn": settings.postgres_dsn, "schema": tag, "table": "members", "create_table": True}
        cleanup.append(lambda: _drop_schema(settings.postgres_dsn, tag))
    elif kind == "rabbitmq":
        await _set_up(kind, _rabbit_queue(settings.rabbitmq_url, tag, cleanup))
        config = {"url": settings.rabbitmq_url, "routing_key": tag}
    elif kind == "nats":
        await _set_up(kind, _nats_stream(settings.nats_url, tag, cleanup))
        config = {"url": settings.nats_url, "stream": tag, "subject": f"{tag}.members"}
    elif kind == "redis":
        config = {"url": settings.redis_url, "stream": tag}
        cleanup.append(lambda: _redis_clean(settings.redis_url, tag))
    else:
        config = {"directory": work_dir, "path": tag, "format": "jsonl"}
    destination = open_destination(kind, config, {}, local=True)  # the servers are on this machine
    try:
        figures = await measure(destination, batch, settings.messages + 1, tag)
    except RuntimeError:
        raise
    except Exception as error:  # a server that is down or refuses: say which kind, not a traceback
        raise RuntimeError(f"{kind}: {type(error).__name__}: {error}") from error
    finally:
        await destination.close()
        for step in cleanup:
            done = step()
            if asyncio.iscoroutine(done):
                await done
    if receiver is not None:
        if receiver.rejected:
            raise RuntimeError(f"webhook: {receiver.rejected} deliveries did not verify")
        figures["verified"] = len(receiver.received)
    log(
        f"{kind} batch {batch}: {figures['deliveries_per_s']:,.0f} deliveries/s, "
        f"send p50 {figures['send_p50_ms']:.2f} ms, p99 {figures['send_p99_ms']:.2f} ms"
    )
    return {"kind": kind, **figures}


async def _set_up(kind: str, step: Any) -> None:
    try:
        await step
    except Exception as error:
        raise RuntimeError(f"{kind}: cannot set up the server's side: {type(error).__name__}: {error}") from error


async def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


async def _rabbit_queue(url: str, name: str, cleanup: list[Callable[[], Any]]) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    queue = await channel.declare_queue(name, durable=True)

    async def remove() -> None:
        await queue.delete(if_unused=False, if_empty=False)
        await connection.close()

    cleanup.append(remove)


async def _nats_stream(url: str, name: str, cleanup: list[Callable[[], Any]]) -> None:
    import nats

    client = await nats.connect(url)
    js = client.jetstream()
    await js.add_stream(name=name, subjects=[f"{name}.>"])

    async def remove() -> None:
        await js.delete_stream(name)
        await client.close()

    cleanup.append(remove)


async def _redis_clean(url: str, stream: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    keys = [stream] + [k async for k in client.scan_iter(match=f"{stream}:*", count=1000)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])
    await client.aclose()


def run(settings: ActivationSettings, progress: Callable[[str], None] = lambda m: None) -> dict:
    async def all_kinds() -> list[dict]:
        results = []
        with tempfile.TemporaryDirectory(prefix="cdp-bench-activation-") as work_dir:
            for kind in settings.kinds:
                for batch in settings.batches:
                    results.append(await _kind(kind, settings, batch, work_dir, progress))
        return results

    return {"messages": settings.messages, "results": asyncio.run(all_kinds())}


def kinds_of(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind {unknown[0]!r}: the kinds are {', '.join(KINDS)}")
    return tuple(names) or KINDS
