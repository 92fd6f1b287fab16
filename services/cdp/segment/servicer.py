"""gRPC adapter of segment."""

from __future__ import annotations

import grpc

from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.api.segment.v1 import segment_pb2_grpc
from cdp.platform.auth import current_caller
from cdp.platform.eventlog import Follower
from cdp.segment.application import NotAllowed, SegmentApp
from cdp.segment.domain import InvalidAudience


class SegmentServicer(segment_pb2_grpc.SegmentServiceServicer):
    def __init__(self, app: SegmentApp, follower: Follower):
        self.app = app
        self.follower = follower

    async def CreateAudience(self, request, context):
        try:
            audience = await self.app.create_audience(request.name, request.conditions, current_caller(), self.follower)
            return pb.CreateAudienceResponse(audience=audience)
        except InvalidAudience as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotAllowed as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{error} (decision {error.decision_id})")

    async def GetAudience(self, request, context):
        audience = self.app.audiences.get(request.audience_id)
        if audience is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"audience_id: no audience {request.audience_id!r}")
        return pb.GetAudienceResponse(audience=audience)

    async def ListAudiences(self, request, context):
        return pb.ListAudiencesResponse(audiences=list(self.app.audiences.values()))

    async def ListMembers(self, request, context):
        if request.audience_id not in self.app.audiences:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"audience_id: no audience {request.audience_id!r}")
        return pb.ListMembersResponse(person_ids=self.app.members(request.audience_id))
