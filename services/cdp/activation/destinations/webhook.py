"""Webhooks signed as Standard Webhooks: a POST of the message's JSON body with `webhook-id` (the
delivery id, the same on every attempt, so the receiver deduplicates by it), `webhook-timestamp`
(the attempt's, which receivers check against their clock) and `webhook-signature`.

During a secret rotation the destination holds two secrets, and the signature header carries a
`v1,` signature by each, space-separated, so a receiver verifies with either the old or the new one.

Answers: 2xx delivered; 408, 429, 5xx, timeouts and connection failures are worth retrying (with the
wait `Retry-After` asks for); 410 says the endpoint is gone for good (disable); any other status
(redirects included: they are not followed, a redirect could lead anywhere) is not retried.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import ipaddress
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from standardwebhooks import Webhook

from cdp.activation.destinations import fields
from cdp.activation.destinations.guard import EgressRefused, address_literal, non_global, refuse_local
from cdp.activation.destinations.port import Message, Outcome

KIND = "webhook"
SECRET_FIELDS = ("secret", "previous_secret")
FIELDS = ("url", "timeout_s", "max_connections", *SECRET_FIELDS)
SECRET_PREFIX = "whsec_"
RETRYABLE = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S = 24 * 3600.0
MAX_ANSWER_BYTES = 64 * 1024


def new_webhook_secret() -> str:
    """A new signing secret: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    url = fields.required_text(config, "url")
    parsed = urlsplit(url)
    try:
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise fields.invalid("url", "has a port that is not a number from 1 to 65535") from None
    if not parsed.hostname or parsed.username is not None or parsed.password is not None:
        raise fields.invalid("url", "must be an https URL with a host and no credentials")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and _loopback(parsed.hostname)):
        # Plain HTTP only where it never leaves the machine (the egress guard decides whether that is allowed).
        raise fields.invalid("url", "must be an https URL (http only to a loopback host)")
    fields.number(config, "timeout_s", 15.0, 0.1, 120.0)
    fields.integer(config, "max_connections", 16, 1, 1024)
    for name in SECRET_FIELDS:
        if name == "secret" or config.get(name) is not None:
            _check_secret(config, name)


def _loopback(host: str) -> bool:
    literal = address_literal(host.strip("[]"))
    return host == "localhost" or (literal is not None and literal.is_loopback)


def _check_secret(config: Mapping[str, Any], name: str) -> None:
    value = fields.required_text(config, name, max_len=200)
    if not value.startswith(SECRET_PREFIX):
        raise fields.invalid(name, "must be whsec_ and base64 (new_webhook_secret() makes one)")
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise fields.invalid(name, "must be whsec_ and base64 (new_webhook_secret() makes one)") from None
    if len(key) < 24:
        raise fields.invalid(name, "must hold at least 24 random bytes")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = when.timestamp() - (time.time() if now is None else now)
    return min(max(wait, 0.0), MAX_RETRY_AFTER_S)


def outcome_of(status: int, headers: Mapping[str, str], latency_ms: float) -> Outcome:
    if 200 <= status < 300:
        return Outcome(ok=True, status=status, latency_ms=latency_ms)
    wait = retry_after(headers.get("Retry-After"))
    if status == 410:
        return Outcome(
            False, status, "HTTP 410: the endpoint is gone", retryable=False, disable=True, latency_ms=latency_ms
        )
    retryable = status in RETRYABLE or status >= 500
    return Outcome(False, status, f"HTTP {status}", retryable=retryable, retry_after_s=wait, latency_ms=latency_ms)


class WebhookDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        merged = {**config, **secrets}
        check_config(merged)
        self.url = str(merged["url"])
        self.local = local
        self._refused = ""
        host = urlsplit(self.url).hostname or ""
        if not local and address_literal(host) is not None:
            try:  # an address in the URL is never resolved, so the resolver below never sees it
                refuse_local(host)
            except EgressRefused as refused:
                self._refused = str(refused)
        self._signers = [Webhook(str(merged[n])) for n in SECRET_FIELDS if merged.get(n)]
        self._timeout = aiohttp.ClientTimeout(total=fields.number(merged, "timeout_s", 15.0, 0.1, 120.0))
        self._limit = fields.integer(merged, "max_connections", 16, 1, 1024)
        self._session: aiohttp.ClientSession | None = None

    def headers(self, message: Message, at: datetime | None = None) -> dict[str, str]:
        at = at or datetime.now(UTC)
        body = message.body.decode("utf-8")
        signatures = " ".join(s.sign(message.delivery_id, at, body) for s in self._signers)
        return {
            "content-type": "application/json",
            "webhook-id": message.delivery_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures,
            "X-CDP-Delivery": message.delivery_id,  # the same id, for receivers that predate signing
        }

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        if self._session is None:
            # One session a destination: its connections are reused, and at most `max_connections` at once.
            resolver = None if self.local else PublicOnlyResolver()
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=self._limit, resolver=resolver)
            )
        session = self._session
        outcomes: list[Outcome | None] = [None] * len(messages)
        by_person: dict[str, list[int]] = {}
        for i, m in enumerate(messages):
            by_person.setdefault(m.person_key, []).append(i)

        async def in_order(indexes: list[int]) -> None:
            # A person's messages one after another, and none after one that failed: order per person.
            for n, i in enumerate(indexes):
                done = outcomes[i] = await self._post(session, messages[i])
                if not done.ok:
                    for later in indexes[n + 1 :]:
                        outcomes[later] = Outcome(False, error="not sent: an earlier message of the person failed")
                    return

        await asyncio.gather(*(in_order(indexes) for indexes in by_person.values()))
        return [o for o in outcomes if o is not None]

    async def _post(self, session: aiohttp.ClientSession, message: Message) -> Outcome:
        started = time.perf_counter()
        if self._refused:
            return Outcome(False, error=self._refused, retryable=False)
        try:
            headers = self.headers(message)
        except UnicodeDecodeError:
            return Outcome(False, error="the body is not UTF-8 JSON", retryable=False)
        try:
            async with session.post(self.url, data=message.body, headers=headers, allow_redirects=False) as response:
                # Read (a bounded part of) the answer, so that the connection is reused rather than closed.
                await response.content.read(MAX_ANSWER_BYTES)
                return outcome_of(response.status, response.headers, _ms(started))
        except TimeoutError:
            return Outcome(False, error="timed out", latency_ms=_ms(started))
        except (aiohttp.ClientError, OSError) as failure:
            refused = getattr(failure, "os_error", None) or failure.__cause__
            if isinstance(refused, EgressRefused):
                return Outcome(False, error=str(refused), retryable=False, latency_ms=_ms(started))
            return Outcome(False, error=f"{type(failure).__name__}: {failure}"[:300], latency_ms=_ms(started))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class PublicOnlyResolver(aiohttp.ThreadedResolver):
    """Resolves as usual and drops any address that is not public, at every connection: the guard
    checked the name when the destination was made, and DNS may answer differently now."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        public = [r for r in found if not non_global(ipaddress.ip_address(r["host"].split("%", 1)[0]))]
        if not public:
            raise EgressRefused(f"egress refused: {host} resolves to no public address")
        return public


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
