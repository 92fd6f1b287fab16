"""Identity's Resolve as the port profile and segment find the person of a call through (read-your-writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import cast

import grpc

from cdp.api.identity.v1 import identity_pb2
from cdp.client import AsyncIdentityClient

RESOLVE_WAIT_MS = 10_000


class IdentityResolver:
    def __init__(self, channel: grpc.aio.Channel):
        self.identity = AsyncIdentityClient(channel, timeout=RESOLVE_WAIT_MS / 1000 + 20)

    async def resolve(
        self, identifiers: Sequence[tuple[str, str]], after_position: int = 0
    ) -> dict[tuple[str, str], str]:
        # The asyncio client's methods are annotated with the blocking client's results.
        response = await cast(
            "Awaitable[identity_pb2.ResolveResponse]",
            self.identity.resolve(
                identifiers, after_position=after_position, wait_ms=RESOLVE_WAIT_MS if after_position else 0
            ),
        )
        return {(r.identifier.type, r.identifier.value): r.person_id for r in response.resolutions}
