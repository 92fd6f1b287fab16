"""gRPC adapter of activation."""

from __future__ import annotations

from cdp.activation.application import ActivationApp
from cdp.activation.lineage import explain_delivery
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.activation.v1 import activation_pb2_grpc
from cdp.platform.auth import current_caller


class ActivationServicer(activation_pb2_grpc.ActivationServiceServicer):
    def __init__(self, app: ActivationApp):
        self.app = app

    async def CreateDestination(self, request, context):
        destination = await self.app.create_destination(request, current_caller())
        return pb.CreateDestinationResponse(destination=destination)

    async def ListDestinations(self, request, context):
        return pb.ListDestinationsResponse(destinations=self.app.list_destinations())

    async def GetDestination(self, request, context):
        return pb.GetDestinationResponse(destination=self.app.destination(request.destination_id))

    async def UpdateDestination(self, request, context):
        destination = await self.app.update_destination(request, current_caller())
        return pb.UpdateDestinationResponse(destination=destination)

    async def PauseDestination(self, request, context):
        destination = await self.app.set_destination_state(request.destination_id, "pause")
        return pb.PauseDestinationResponse(destination=destination)

    async def ResumeDestination(self, request, context):
        destination = await self.app.set_destination_state(request.destination_id, "resume")
        return pb.ResumeDestinationResponse(destination=destination)

    async def DeleteDestination(self, request, context):
        destination = await self.app.set_destination_state(request.destination_id, "delete")
        return pb.DeleteDestinationResponse(destination=destination)

    async def ListDeliveries(self, request, context):
        return pb.ListDeliveriesResponse(
            deliveries=self.app.list_deliveries(
                request.destination_id, request.limit or 100, request.person_id, request.status, request.sync_id
            )
        )

    async def ListDeadLetters(self, request, context):
        self.app.destination(request.destination_id)
        found = self.app.list_deliveries(request.destination_id, request.limit or 100, status="dead_lettered")
        return pb.ListDeadLettersResponse(deliveries=found)

    async def ReplayDeliveries(self, request, context):
        replayed = await self.app.replay(request.destination_id, request.delivery_ids, current_caller())
        return pb.ReplayDeliveriesResponse(delivery_ids=replayed)

    async def CreateSync(self, request, context):
        return pb.CreateSyncResponse(sync=await self.app.create_sync(request, current_caller()))

    async def ListSyncs(self, request, context):
        return pb.ListSyncsResponse(syncs=self.app.list_syncs(request.destination_id))

    async def GetSync(self, request, context):
        return pb.GetSyncResponse(sync=self.app.sync(request.sync_id))

    async def UpdateSync(self, request, context):
        return pb.UpdateSyncResponse(sync=await self.app.update_sync(request, current_caller()))

    async def PauseSync(self, request, context):
        return pb.PauseSyncResponse(sync=await self.app.set_sync_state(request.sync_id, "pause"))

    async def ResumeSync(self, request, context):
        return pb.ResumeSyncResponse(sync=await self.app.set_sync_state(request.sync_id, "resume"))

    async def DeleteSync(self, request, context):
        return pb.DeleteSyncResponse(sync=await self.app.set_sync_state(request.sync_id, "delete"))

    async def ApproveSync(self, request, context):
        sync = await self.app.decide_sync(request.sync_id, "approve", current_caller(), request.fingerprint)
        return pb.ApproveSyncResponse(sync=sync)

    async def RejectSync(self, request, context):
        sync = await self.app.decide_sync(
            request.sync_id, "reject", current_caller(), request.fingerprint, request.reason
        )
        return pb.RejectSyncResponse(sync=sync)

    async def ListPendingSyncs(self, request, context):
        return pb.ListPendingSyncsResponse(syncs=self.app.list_pending_syncs())

    async def ExplainDelivery(self, request, context):
        return explain_delivery(self.app, request.delivery_id)
