"""gRPC adapter of activation."""

from __future__ import annotations

import grpc

from cdp.activation.application import ActivationApp, NotAllowed
from cdp.activation.domain import InvalidDestination
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.activation.v1 import activation_pb2_grpc
from cdp.platform.auth import current_caller
from cdp.platform.eventlog import Follower


class ActivationServicer(activation_pb2_grpc.ActivationServiceServicer):
    def __init__(self, app: ActivationApp, follower: Follower):
        self.app = app
        self.follower = follower

    async def CreateDestination(self, request, context):
        try:
            destination = await self.app.create_destination(request, current_caller(), self.follower)
            return pb.CreateDestinationResponse(destination=destination)
        except InvalidDestination as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotAllowed as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"audience_ids: {error.details()}")
            raise

    async def ListDestinations(self, request, context):
        return pb.ListDestinationsResponse(destinations=list(self.app.destinations.values()))

    async def ListDeliveries(self, request, context):
        return pb.ListDeliveriesResponse(
            deliveries=self.app.list_deliveries(request.destination_id, request.limit or 100)
        )
