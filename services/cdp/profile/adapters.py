"""Profile's ports, over gRPC: identity's Resolve."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc

RESOLVE_WAIT_MS = 10_000


class IdentityResolver:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = identity_pb2_grpc.IdentityStub(channel)

    async def resolve(
        self, identifiers: Sequence[tuple[str, str]], after_position: int = 0
    ) -> dict[tuple[str, str], str]:
        request = identity_pb2.ResolveRequest(
            identifiers=[identity_pb2.Identifier(type=t, value=v) for t, v in identifiers],
            after_position=after_position,
            wait_ms=RESOLVE_WAIT_MS if after_position else 0,
        )
        response = await self.stub.Resolve(request, timeout=RESOLVE_WAIT_MS / 1000 + 20)
        return {(r.identifier.type, r.identifier.value): r.person_id for r in response.resolutions}
