"""NATS JetStream: each message published to a subject of a stream with `Nats-Msg-Id` = the
delivery id, and delivered once the stream's PubAck says it is stored. The stream drops a second
publish of the same id within its duplicate window (PubAck.duplicate), so a retry after a lost
acknowledgement adds nothing. A send() publishes its messages together and waits for every PubAck.
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

KIND = "nats"
SECRET_FIELDS = ("password", "token")
FIELDS = ("url", "username", "stream", "subject", "timeout_s", *SECRET_FIELDS)


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    fields.server_url(config, "url", ("nats", "tls"))
    fields.text(config, "username", "", max_len=255)
    fields.text(config, "password", "", max_len=255)
    fields.text(config, "token", "", max_len=1024)
    stream = fields.required_text(config, "stream", max_len=255)
    if any(c in stream for c in " .*>\t/\\"):
        raise fields.invalid("stream", "must not hold spaces, dots, *, >, or slashes")
    subject = fields.required_text(config, "subject", max_len=255)
    if any(c in subject for c in " *>\t") or subject.startswith(".") or subject.endswith(".") or ".." in subject:
        raise fields.invalid("subject", "must be a literal subject (dot-separated tokens, no wildcards or spaces)")
    fields.number(config, "timeout_s", 10.0, 0.1, 120.0)


class NatsJetStreamDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        merged = {**config, **secrets}
        check_config(merged)
        self.local = local
        self._url = str(merged["url"])
        self._auth = {
            name: value
            for name, value in (
                ("user", merged.get("username")),
                ("password", merged.get("password")),
                ("token", merged.get("token")),
            )
            if value
        }
        self._stream = str(merged["stream"])
        self._subject = str(merged["subject"])
        self._timeout = fields.number(merged, "timeout_s", 10.0, 0.1, 120.0)
        self._client: Any = None

    async def _jetstream(self) -> Any:
        import nats

        if self._client is None or self._client.is_closed:
            if not self.local:
                await asyncio.to_thread(refuse_local, urlsplit(self._url).hostname or "")
            self._client = await nats.connect(
                self._url,
                connect_timeout=max(1, int(self._timeout)),
                allow_reconnect=True,
                max_reconnect_attempts=2,
                **self._auth,
            )
        return self._client.jetstream(timeout=self._timeout)

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        from nats import errors
        from nats.js import errors as js_errors

        started = time.perf_counter()
        try:
            js = await self._jetstream()
        except (errors.Error, OSError, TimeoutError) as failure:
            await self._drop()
            return [Outcome(False, error=_error(failure), latency_ms=_ms(started)) for _ in messages]

        async def publish(message: Message) -> Outcome:
            headers = {"Nats-Msg-Id": message.delivery_id, "Cdp-Action": message.action}
            try:
                ack = await js.publish(self._subject, message.body, stream=self._stream, headers=headers)
            except (errors.NoRespondersError, js_errors.NoStreamResponseError):
                return Outcome(False, error=f"no stream listens on {self._subject}", latency_ms=_ms(started))
            except js_errors.APIError as failure:
                # The stream refused it (wrong expected stream, a limit reached): retrying may succeed later.
                return Outcome(False, status=failure.code or 0, error=_error(failure), latency_ms=_ms(started))
            except (errors.Error, OSError, TimeoutError) as failure:
                return Outcome(False, error=_error(failure), latency_ms=_ms(started))
            return Outcome(True, latency_ms=_ms(started), extra={"seq": ack.seq, "duplicate": bool(ack.duplicate)})

        return list(await asyncio.gather(*(publish(m) for m in messages)))

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def close(self) -> None:
        await self._drop()


def _error(failure: BaseException) -> str:
    text = str(failure) or type(failure).__name__
    return f"{type(failure).__name__}: {text}"[:300]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
