"""A Redis stream: each message an entry (XADD) with the fields delivery_id, action, person_key and
body. One script adds the entry and remembers the delivery id (a key with a TTL) atomically, so a
retry after a lost reply answers the first entry's id instead of adding a second one. `maxlen`
trims the stream approximately (0: never). A send() is one pipelined round trip.
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

KIND = "redis"
SECRET_FIELDS = ("password",)
FIELDS = ("url", "username", "stream", "maxlen", "dedup_ttl_s", "timeout_s", *SECRET_FIELDS)

# KEYS[1] the stream, KEYS[2] the delivery's key; ARGV: ttl, maxlen, then the entry's fields.
ADD_ONCE = """
local seen = redis.call('GET', KEYS[2])
if seen then return {0, seen} end
local id
if tonumber(ARGV[2]) > 0 then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
end
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return {1, id}
"""


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    fields.server_url(config, "url", ("redis", "rediss"))
    fields.text(config, "username", "", max_len=255)
    fields.text(config, "password", "", max_len=1024)
    fields.required_text(config, "stream", max_len=512)
    fields.integer(config, "maxlen", 0, 0, 10**12)
    fields.integer(config, "dedup_ttl_s", 7 * 24 * 3600, 60, 365 * 24 * 3600)
    fields.number(config, "timeout_s", 10.0, 0.1, 120.0)


class RedisStreamDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        merged = {**config, **secrets}
        check_config(merged)
        self.local = local
        self._url = str(merged["url"])
        self._username = fields.text(merged, "username", "") or None
        self._password = fields.text(merged, "password", "") or None
        self.stream = str(merged["stream"])
        self._maxlen = fields.integer(merged, "maxlen", 0, 0, 10**12)
        self._ttl = fields.integer(merged, "dedup_ttl_s", 7 * 24 * 3600, 60, 365 * 24 * 3600)
        self._timeout = fields.number(merged, "timeout_s", 10.0, 0.1, 120.0)
        self._client: Any = None
        self._script: Any = None

    def dedup_key(self, delivery_id: str) -> str:
        return f"{self.stream}:delivered:{delivery_id}"

    async def _open(self) -> Any:
        import redis.asyncio

        if self._client is None:
            if not self.local:
                await asyncio.to_thread(refuse_local, urlsplit(self._url).hostname or "")
            self._client = redis.asyncio.Redis.from_url(
                self._url,
                username=self._username,
                password=self._password,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
            )
            self._script = self._client.register_script(ADD_ONCE)
        return self._client

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        from redis import exceptions

        started = time.perf_counter()
        try:
            client = await self._open()
            pipe = client.pipeline(transaction=False)
            for m in messages:
                entry = ["delivery_id", m.delivery_id, "action", m.action, "person_key", m.person_key, "body", m.body]
                await self._script(
                    keys=[self.stream, self.dedup_key(m.delivery_id)],
                    args=[self._ttl, self._maxlen, *entry],
                    client=pipe,
                )
            replies = await pipe.execute(raise_on_error=False)
        except (exceptions.RedisError, OSError, TimeoutError) as failure:
            await self._drop()
            error = f"{type(failure).__name__}: {failure}"[:300]
            return [Outcome(False, error=error, latency_ms=_ms(started)) for _ in messages]
        ms = _ms(started)
        outcomes = []
        for reply in replies:
            if isinstance(reply, Exception):
                outcomes.append(Outcome(False, error=f"{type(reply).__name__}: {reply}"[:300], latency_ms=ms))
                continue
            added, entry_id = reply
            shown = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            outcomes.append(Outcome(True, latency_ms=ms, extra={"entry_id": shown, "duplicate": not added}))
        return outcomes

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def close(self) -> None:
        await self._drop()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
