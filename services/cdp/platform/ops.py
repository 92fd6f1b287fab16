"""What every service tells its operators: where its followers stand, and what they parked."""

from __future__ import annotations

from collections.abc import Sequence

from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.platform.auth import current_caller
from cdp.platform.errors import NotFound
from cdp.platform.follower import Follower
from cdp.platform.grpc_types import ServicerContext
from cdp.platform.store import EventStore

MAX_PAGE = 1000


class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    def __init__(self, service: str, store: EventStore, followers: Sequence[Follower]):
        self.service = service
        self.store = store
        self.followers = {f.name: f for f in followers}

    def _chosen(self, upstream: str) -> list[Follower]:
        if not upstream:
            return list(self.followers.values())
        if upstream not in self.followers:
            known = ", ".join(self.followers) or "none"
            raise NotFound(f"upstream: {self.service} follows no {upstream!r} (it follows: {known})")
        return [self.followers[upstream]]

    async def GetStatus(self, request: ops_pb2.GetStatusRequest, context: ServicerContext) -> ops_pb2.GetStatusResponse:
        return ops_pb2.GetStatusResponse(
            service=self.service,
            head=self.store.head(),
            followers=[
                ops_pb2.FollowerStatus(
                    upstream=f.name, position=f.position, head=max(f.upstream.head, f.position), parked=len(f.parked)
                )
                for f in self.followers.values()
            ],
        )

    async def ListParked(
        self, request: ops_pb2.ListParkedRequest, context: ServicerContext
    ) -> ops_pb2.ListParkedResponse:
        limit = min(request.limit or 100, MAX_PAGE)
        found = [
            ops_pb2.ParkedEvent(
                upstream=p.upstream,
                position=p.position,
                topic=p.topic,
                key=p.key,
                error=p.error,
                error_id=p.error_id,
                parked_at=p.parked_at,
            )
            for f in self._chosen(request.upstream)
            for _, p in sorted(f.parked.items())
        ]
        return ops_pb2.ListParkedResponse(events=found[:limit])

    async def RetryParked(
        self, request: ops_pb2.RetryParkedRequest, context: ServicerContext
    ) -> ops_pb2.RetryParkedResponse:
        applied = still = 0
        for follower in self._chosen(request.upstream):
            done, left = await follower.retry(current_caller().subject)
            applied, still = applied + done, still + left
        return ops_pb2.RetryParkedResponse(applied=applied, still_parked=still)
