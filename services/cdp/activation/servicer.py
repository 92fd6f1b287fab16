"""gRPC adapter of activation."""

from __future__ import annotations

from cdp.activation.application import ActivationApp
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.activation.v1 import activation_pb2_grpc
from cdp.platform.auth import current_caller


class ActivationServicer(activation_pb2_grpc.ActivationServicer):
    def __init__(self, app: ActivationApp):
        self.app = app

    async def CreateDestination(self, request, context):
        return await self.app.create_destination(request, current_caller())

    async def ListDestinations(self, request, context):
        return pb.ListDestinationsResponse(destinations=list(self.app.destinations.values()))

    async def ListDeliveries(self, request, context):
        return pb.ListDeliveriesResponse(
            deliveries=self.app.list_deliveries(request.destination_id, request.limit or 100)
        )
