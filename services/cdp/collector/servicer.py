"""gRPC adapter of the collector."""

from __future__ import annotations

import grpc

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.collector import domain
from cdp.collector.application import BatchTooLarge, Collector, UnknownWriteKey


class CollectorServicer(collector_pb2_grpc.CollectorServicer):
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
            return self.collector.ingest(request.write_key, request.events)
        except UnknownWriteKey as error:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(error))
        except BatchTooLarge as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))

    async def IngestStream(self, request_iterator, context):
        total = collector_pb2.IngestResponse()
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
            return self.collector.create_source(request.name, request.server_side).to_proto()
        except ValueError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))

    async def ListSources(self, request, context):
        return collector_pb2.ListSourcesResponse(sources=[s.to_proto() for s in self.collector.sources.values()])
