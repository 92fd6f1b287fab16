"""What every service tells its operators: where its followers stand, and what they parked; and
what every service does for its peers: record their signed decision-log heads (WitnessHead)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.platform import metrics
from cdp.platform.auth import current_caller
from cdp.platform.clock import now_iso
from cdp.platform.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from cdp.platform.follower import Follower
from cdp.platform.grpc_types import ServicerContext
from cdp.platform.heads import SignedHead, load_head_key, verify_head
from cdp.platform.ids import derived_id
from cdp.platform.published import stored
from cdp.platform.store import EventStore

if TYPE_CHECKING:
    from cdp.platform.unit_of_work import UnitOfWork

MAX_PAGE = 1000


class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    def __init__(
        self,
        service: str,
        store: EventStore,
        followers: Sequence[Follower],
        uow: UnitOfWork | None = None,
        credentials_dir: Path | None = None,
    ):
        self.service = service
        self.store = store
        self.followers = {f.name: f for f in followers}
        self.uow = uow
        self.credentials_dir = credentials_dir

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

    async def WitnessHead(
        self, request: ops_pb2.WitnessHeadRequest, context: ServicerContext
    ) -> ops_pb2.WitnessHeadResponse:
        """Record a peer's signed head in this store, once its signature checks out."""
        head = SignedHead.from_proto(request.head)
        caller = current_caller()
        if caller.kind != "service" or caller.subject != head.service:
            raise PermissionDenied(f"only {head.service or 'a service'} may have its own head witnessed")
        if self.uow is None or self.credentials_dir is None:
            raise Unavailable(f"{self.service} witnesses no heads")
        public = load_head_key(self.credentials_dir, head.service)
        if public is None:
            raise Unavailable(f"{self.service} has no public key of {head.service} to check its heads with")
        if not verify_head(public, head):
            metrics.VERIFY_FAILURES.labels(self.service, "peer_head_signature").inc()
            raise InvalidArgument(f"head: #{head.sequence} is not signed with {head.service}'s key")
        message = ops_pb2.HeadWitnessed(head=request.head, witnessed_by=self.service, witnessed_at=now_iso())
        originator = derived_id("head-witnessed", head.service, str(head.sequence), head.hash)
        self.uow.commit([stored(originator, 1, message)], new_only=True)  # a head sent twice is kept once
        return ops_pb2.WitnessHeadResponse()
