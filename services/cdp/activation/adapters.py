"""Activation's ports, over gRPC through the platform's client (profile's and segment's APIs), and
the destinations port opened through the kinds' registry."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Mapping, Sequence
from typing import cast

import grpc

from cdp.activation.application import config_of
from cdp.activation.destinations.port import Destination
from cdp.activation.destinations.registry import open_destination
from cdp.activation.queues import DestinationFactory
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.client import AsyncProfileClient, AsyncSegmentClient

TIMEOUT_S = 10
LOCAL_DESTINATIONS_ENV = "CDP_ALLOW_LOCAL_DESTINATIONS"


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

    async def audience(self, audience_id: str) -> segment_pb2.Audience:
        """Raises NotFound (the platform's error, as segment answered) for an unknown audience."""
        return await cast("Awaitable[segment_pb2.Audience]", self.segment.get_audience(audience_id))


def destination_opener(local: bool) -> DestinationFactory:
    """The DestinationFactory of the kinds' registry: a destination's kind, its shown config and
    its secrets in clear (local: loopback and private addresses may be reached)."""

    def opened(destination: pb.Destination, secrets: dict[str, str]) -> Destination:
        return open_destination(destination.type or "webhook", config_of(destination), secrets, local=local)

    return opened


def local_destinations_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """CDP_ALLOW_LOCAL_DESTINATIONS=1: the local profile (`cdp up`, tests) lets destinations on this
    machine and its private networks; off unless set (deployments never set it)."""
    value = (os.environ if environ is None else environ).get(LOCAL_DESTINATIONS_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")
