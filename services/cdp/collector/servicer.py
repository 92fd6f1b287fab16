"""gRPC adapter of the collector."""

from __future__ import annotations

import grpc

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.collector.v1 import collector_pb2_grpc
from cdp.collector import domain
from cdp.collector.application import BatchTooLarge, Collector, NotFound, UnknownWriteKey
from cdp.collector.plans import InvalidPlan

# Domain errors and the status each becomes.
STATUS = {
    UnknownWriteKey: grpc.StatusCode.UNAUTHENTICATED,
    BatchTooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    InvalidPlan: grpc.StatusCode.INVALID_ARGUMENT,
    ValueError: grpc.StatusCode.INVALID_ARGUMENT,
}


async def _abort(context, error: Exception):
    for kind, code in STATUS.items():
        if isinstance(error, kind):
            await context.abort(code, str(error))
    raise error


class CollectorServicer(collector_pb2_grpc.CollectorServiceServicer):
    def __init__(self, collector: Collector):
        self.collector = collector

    async def Ingest(self, request, context):
        size = request.ByteSize()
        if size > domain.MAX_BATCH_BYTES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"events: batch is {size} bytes; the limit is {domain.MAX_BATCH_BYTES} bytes (500 KB)",
            )
        try:
            return await self.collector.ingest_async(request.write_key, request.events)
        except (UnknownWriteKey, BatchTooLarge) as error:
            await _abort(context, error)

    async def IngestStream(self, request_iterator, context):
        total = pb.IngestStreamResponse()
        offset = 0
        async for request in request_iterator:
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
        try:
            return pb.CreateSourceResponse(
                source=self.collector.create_source(request.name, request.server_side).to_proto()
            )
        except ValueError as error:
            await _abort(context, error)

    async def ListSources(self, request, context):
        return pb.ListSourcesResponse(sources=[s.to_proto() for s in self.collector.sources.values()])

    async def DisableSource(self, request, context):
        try:
            return pb.DisableSourceResponse(source=self.collector.disable_source(request.name).to_proto())
        except NotFound as error:
            await _abort(context, error)

    async def PublishPlan(self, request, context):
        try:
            return pb.PublishPlanResponse(plan=self.collector.publish_plan(request.name, request.document))
        except InvalidPlan as error:
            await _abort(context, error)

    async def ListPlans(self, request, context):
        return pb.ListPlansResponse(plans=list(self.collector.plan_documents.values()))

    async def AssignPlan(self, request, context):
        try:
            source = self.collector.assign_plan(request.source_name, request.plan_name, request.mode or "allow")
            return pb.AssignPlanResponse(source=source.to_proto())
        except (NotFound, ValueError) as error:
            await _abort(context, error)

    async def ListQuarantine(self, request, context):
        try:
            return pb.ListQuarantineResponse(
                events=self.collector.list_quarantine(request.source_name, request.limit or 100)
            )
        except NotFound as error:
            await _abort(context, error)

    async def ReleaseQuarantine(self, request, context):
        try:
            released, still = self.collector.release_quarantine(request.source_name)
        except NotFound as error:
            await _abort(context, error)
        return pb.ReleaseQuarantineResponse(released=released, still_quarantined=still)
