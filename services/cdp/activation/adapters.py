"""Activation's ports, over gRPC through the platform's client (profile's and segment's APIs) and
HTTP (webhooks)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import cast

import aiohttp
import grpc

from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.client import AsyncProfileClient, AsyncSegmentClient

TIMEOUT_S = 10


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


class WebhookSender:
    """Posts a delivery's body to a webhook destination; 2xx is delivered."""

    def __init__(self, timeout_s: float = TIMEOUT_S):
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, destination: pb.Destination, body: bytes, delivery_id: str) -> tuple[bool, int, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                destination.url,
                data=body,
                headers={"Content-Type": "application/json", "X-CDP-Delivery": delivery_id},
            ) as response:
                ok = 200 <= response.status < 300
                return ok, response.status, "" if ok else f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as failure:
            return False, 0, f"{type(failure).__name__}: {failure}"[:500]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
