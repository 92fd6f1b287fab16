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
            purpose=request.purpose,
            level=request.level,
        )
        return pb.CreateAudienceResponse(audience=self.app.shown(audience, caller))

    async def UpdateAudience(self, request, context):
        caller = current_caller()
        audience = await self.app.update_audience(
            request.audience_id,
            caller,
            name=request.name,
            purpose=request.purpose,
            conditions=request.conditions,
            definition=request.definition if request.HasField("definition") else None,
            definition_json=request.definition_json,
        )
        return pb.UpdateAudienceResponse(audience=self.app.shown(audience, caller))

    async def ArchiveAudience(self, request, context):
        caller = current_caller()
        audience = await self.app.archive_audience(request.audience_id, caller)
        return pb.ArchiveAudienceResponse(audience=self.app.shown(audience, caller))

    async def PreviewAudience(self, request, context):
        size, person_ids, decision_id = await self.app.preview_audience(
            current_caller(),
            request.conditions,
            request.definition if request.HasField("definition") else None,
            request.definition_json,
            sample=request.sample,
            name=request.name,
            purpose=request.purpose,
            level=request.level,
        )
        return pb.PreviewAudienceResponse(size=size, person_ids=person_ids, decision_id=decision_id)

    async def GetAudience(self, request, context):
        return pb.GetAudienceResponse(audience=self.app.shown(self.app.audience(request.audience_id), current_caller()))

    async def ListAudiences(self, request, context):
        caller = current_caller()
        return pb.ListAudiencesResponse(audiences=[self.app.shown(a, caller) for a in self.app.audiences.values()])

    async def ListMembers(self, request, context):
        person_ids, next_token, total = self.app.members_page(
            request.audience_id, request.page_size, request.page_token
        )
        return pb.ListMembersResponse(person_ids=person_ids, next_page_token=next_token, total=total)

    async def ListMembershipHistory(self, request, context):
        changes, next_token = self.app.membership_history(
            request.audience_id, request.person_id, request.page_size, request.page_token, request.account_id
        )
        return pb.ListMembershipHistoryResponse(
            changes=[
                pb.MembershipChange(
                    audience_id=c.audience_id,
                    person_id=c.person_id,
                    entered=c.entered,
                    audience_version=c.audience_version,
                    cause=c.cause,
                    cause_event_id=c.cause_event_id,
                    at=c.at,
                    account_id=c.account_id,
                )
                for c in changes
            ],
            next_page_token=next_token,
        )
