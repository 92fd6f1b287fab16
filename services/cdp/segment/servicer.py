"""gRPC adapter of segment."""

from __future__ import annotations

from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.api.segment.v1 import segment_pb2_grpc
from cdp.platform.auth import current_caller
from cdp.segment.application import SegmentApp


class SegmentServicer(segment_pb2_grpc.SegmentServiceServicer):
    def __init__(self, app: SegmentApp):
        self.app = app

    async def CreateAudience(self, request, context):
        caller = current_caller()
        audience = await self.app.create_audience(
            request.name,
            request.conditions,
            caller,
            request.definition if request.HasField("definition") else None,
            request.definition_json,
        )
        return pb.CreateAudienceResponse(audience=self.app.shown(audience, caller))

    async def GetAudience(self, request, context):
        return pb.GetAudienceResponse(audience=self.app.shown(self.app.audience(request.audience_id), current_caller()))

    async def ListAudiences(self, request, context):
        caller = current_caller()
        return pb.ListAudiencesResponse(audiences=[self.app.shown(a, caller) for a in self.app.audiences.values()])

    async def ListMembers(self, request, context):
        return pb.ListMembersResponse(person_ids=self.app.members(request.audience_id))
