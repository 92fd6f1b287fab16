"""Activation's ports, over gRPC (profile's and segment's APIs) and HTTP (webhooks)."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
import grpc

from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.platform.errors import NotFound

TIMEOUT_S = 10


class ProfileClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = profile_pb2_grpc.ProfileServiceStub(channel)

    async def sealed_profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]:
        request = profile_pb2.GetProfilesRequest(person_ids=person_ids, encrypted=True)
        response = await self.stub.GetProfiles(request, timeout=30)
        return {p.person_id: p for p in response.profiles}


class SegmentClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = segment_pb2_grpc.SegmentServiceStub(channel)

    async def audience_name(self, audience_id: str) -> str:
        try:
            audience = await self.stub.GetAudience(
                segment_pb2.GetAudienceRequest(audience_id=audience_id), timeout=TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(error.details()) from None
            raise
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
