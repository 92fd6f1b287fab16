"""Activation's ports, over gRPC through the platform's client (profile's and segment's APIs) and
HTTP (webhooks, as a destination kind behind the destinations port)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Sequence
from email.utils import parsedate_to_datetime
from typing import cast

import aiohttp
import grpc

from cdp.activation.destinations.port import Destination, Message, Outcome
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.client import AsyncProfileClient, AsyncSegmentClient

TIMEOUT_S = 10
MAX_RETRY_AFTER_S = 24 * 3600.0


class ProfileReader:
    def __init__(self, channel: grpc.aio.Channel):
        self.profile = AsyncProfileClient(channel)

    async def sealed_profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]:
        # The asyncio client's methods are annotated with the blocking client's results.
        profiles = await cast(
            "Awaitable[list[profile_pb2.Profile]]", self.profile.get_profiles(person_ids, encrypted=True)
        )
        return {p.person_id: p for p in profiles}


class AudienceDirectory:
    def __init__(self, channel: grpc.aio.Channel):
        self.segment = AsyncSegmentClient(channel, timeout=TIMEOUT_S)

    async def audience_name(self, audience_id: str) -> str:
        """Raises NotFound (the platform's error, as segment answered) for an unknown audience."""
        audience = await cast("Awaitable[segment_pb2.Audience]", self.segment.get_audience(audience_id))
        return audience.name


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(when - (time.time() if now is None else now), 0.0), MAX_RETRY_AFTER_S)


def outcome_of(status: int, headers_retry_after: str | None, latency_ms: float) -> Outcome:
    """An HTTP answer as the delivery queue reads it: 2xx delivered; 408, 429 and 5xx retried
    (after Retry-After when given); 410 disables the destination; any other status is final."""
    if 200 <= status < 300:
        return Outcome(ok=True, status=status, latency_ms=latency_ms)
    after = retry_after(headers_retry_after)
    error = f"HTTP {status}"
    if status == 410:
        return Outcome(ok=False, status=status, error=error, retryable=False, disable=True, latency_ms=latency_ms)
    retryable = status in (408, 429) or status >= 500
    return Outcome(
        ok=False,
        status=status,
        error=error,
        retryable=retryable,
        retry_after_s=after if retryable else None,
        latency_ms=latency_ms,
    )


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1: base64 HMAC-SHA256 of "id.timestamp.body" under the secret (whsec_
    and base64, or any other text taken as it is)."""
    key = secret.encode()
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            key = secret.encode()
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class HttpWebhook:
    """The webhook kind: POSTs each message's body, signed when the destination has a secret."""

    kind = "webhook"

    def __init__(self, url: str, secret: str = "", timeout_s: float = TIMEOUT_S):
        self.url = url
        self.secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        return [await self._post(m) for m in messages]

    async def _post(self, message: Message) -> Outcome:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Content-Type": "application/json", "X-CDP-Delivery": message.delivery_id}
        if self.secret:
            now = int(time.time())
            headers |= {
                "webhook-id": message.delivery_id,
                "webhook-timestamp": str(now),
                "webhook-signature": signature(self.secret, message.delivery_id, now, message.body),
            }
        started = time.perf_counter()
        try:
            async with self._session.post(self.url, data=message.body, headers=headers) as response:
                await response.read()
                latency = (time.perf_counter() - started) * 1000
                return outcome_of(response.status, response.headers.get("Retry-After"), latency)
        except (TimeoutError, aiohttp.ClientError, OSError) as failure:
            return Outcome(
                ok=False,
                error=f"{type(failure).__name__}: {failure}"[:500],
                retryable=True,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def open_webhook(destination: pb.Destination, secrets: dict[str, str]) -> Destination:
    """The default DestinationFactory: every kind is a webhook for now (the kinds' registry,
    open_destination(kind, config, secrets), plugs in here)."""
    return HttpWebhook(destination.url or destination.config.get("url", ""), secrets.get("secret", ""))
