"""gRPC adapter of identity."""

from __future__ import annotations

import grpc

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.api.identity.v1 import identity_pb2_grpc
from cdp.identity.application import IdentityApp
from cdp.platform.auth import current_caller
from cdp.platform.eventlog import Follower

MAX_WAIT_MS = 30_000


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, app: IdentityApp, follower: Follower):
        self.app = app
        self.follower = follower

    async def Resolve(self, request, context):
        if request.after_position:
            wait = min(request.wait_ms or 10_000, MAX_WAIT_MS) / 1000
            if not await self.follower.reached(request.after_position, wait):
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    f"after_position: identity has followed the collector to {self.follower.position}, "
                    f"not yet {request.after_position}; retry",
                )
        resolutions = [
            pb.Resolution(identifier=i, person_id=self.app.resolve(i.type, i.value) or "") for i in request.identifiers
        ]
        return pb.ResolveResponse(resolutions=resolutions, position=self.follower.position)

    async def GetPerson(self, request, context):
        person_id = request.person_id
        if not person_id and request.identifier.value:
            person_id = self.app.resolve(request.identifier.type, request.identifier.value) or ""
        if not person_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "person_id: give a person id or an identifier")
        person = self.app.person(person_id)
        if person is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "person_id: no such person")
        return pb.GetPersonResponse(person=person)

    async def Forget(self, request, context):
        person_id = request.person_id
        if not person_id and request.identifier.value:
            person_id = self.app.resolve(request.identifier.type, request.identifier.value) or ""
            if not person_id:
                await context.abort(
                    grpc.StatusCode.NOT_FOUND, f"identifier: no person has this {request.identifier.type}"
                )
        if not person_id or self.app.person(person_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "person_id: no such person")
        async with self.follower.lock:  # the graph changes only between batches
            event, destroyed, identifiers = self.app.forget(person_id, current_caller().subject)
            try:
                self.app.store.append([event])
            except Exception:
                self.app.rebuild()
                raise
        return pb.ForgetResponse(
            person_id=self.app.graph.canonical(person_id), keys_destroyed=destroyed, identifiers=identifiers
        )
