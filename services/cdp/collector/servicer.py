"""gRPC adapter of the collector."""

from __future__ import annotations

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.collector.v1 import collector_pb2_grpc
from cdp.collector import domain
from cdp.collector.application import Collector
from cdp.platform.auth import admitted_caller
from cdp.platform.errors import InvalidArgument


class CollectorServicer(collector_pb2_grpc.CollectorServiceServicer):
    def __init__(self, collector: Collector):
        self.collector = collector

    async def Ingest(self, request, context):
        size = request.ByteSize()
        if size > domain.MAX_BATCH_BYTES:
            raise InvalidArgument(
                "events", f"batch is {size} bytes; the limit is {domain.MAX_BATCH_BYTES} bytes (500 KB)"
            )
        return await self.collector.ingest_async(request.write_key, request.events)

    async def IngestStream(self, request_iterator, context):
        total = pb.IngestStreamResponse()
        offset = 0
        async for request in request_iterator:
            # The acks of the whole stream come in one message, which gRPC caps at 16 MB: beyond
            # this many events it could not be sent, though every batch would have been stored.
            if offset + len(request.events) > domain.MAX_STREAM_EVENTS:
                raise InvalidArgument(
                    "events",
                    f"a stream carries at most {domain.MAX_STREAM_EVENTS} events; the {offset} before this "
                    "batch are stored: send the rest on another stream",
                )
            response = await self.Ingest(request, context)
            for ack in response.acks:
                ack.index += offset
            offset += len(request.events)
            total.acks.extend(response.acks)
            total.accepted += response.accepted
            total.duplicates += response.duplicates
            total.rejected += response.rejected
        return total

    async def CreateSource(self, request, context):
        source = self.collector.create_source(request.name, request.server_side)
        return pb.CreateSourceResponse(source=source.to_proto())

    async def ListSources(self, request, context):
        self.collector.refresh()
        return pb.ListSourcesResponse(sources=[s.to_proto() for s in self.collector.sources.values()])

    async def DisableSource(self, request, context):
        return pb.DisableSourceResponse(source=self.collector.disable_source(request.name).to_proto())

    async def PublishPlan(self, request, context):
        return pb.PublishPlanResponse(plan=self.collector.publish_plan(request.name, request.document))

    async def ListPlans(self, request, context):
        self.collector.refresh()
        return pb.ListPlansResponse(plans=list(self.collector.plan_documents.values()))

    async def GetPlan(self, request, context):
        return pb.GetPlanResponse(plan=self.collector.get_plan(request.name, request.version))

    async def AssignPlan(self, request, context):
        settings = request.settings if request.HasField("settings") else None
        source = self.collector.assign_plan(
            request.source_name, request.plan_name, request.mode, settings, request.plan_version
        )
        return pb.AssignPlanResponse(source=source.to_proto())

    async def ListQuarantine(self, request, context):
        events = self.collector.list_quarantine(request.source_name, request.limit or 100, request.filter)
        return pb.ListQuarantineResponse(events=events)

    async def ReleaseQuarantine(self, request, context):
        return self.collector.release_quarantine(
            request.source_name,
            request.filter,
            as_is=request.as_is,
            by=caller_subject(),
            reason=request.reason,
        )

    async def DiscardQuarantine(self, request, context):
        return self.collector.discard_quarantine(request.filter, by=caller_subject(), reason=request.reason)


def caller_subject() -> str:
    """Who makes the call being served (empty where the server admits callers unauthenticated)."""
    caller = admitted_caller()
    return caller.subject if caller else ""
