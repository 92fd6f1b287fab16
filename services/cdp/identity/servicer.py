"""gRPC adapter of identity."""

from __future__ import annotations

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.api.identity.v1 import identity_pb2_grpc
from cdp.identity.application import IdentityApp
from cdp.platform.auth import current_caller

MAX_WAIT_MS = 30_000


def _identifier(request) -> tuple[str, str] | None:
    return (request.identifier.type, request.identifier.value) if request.HasField("identifier") else None


class IdentityServicer(identity_pb2_grpc.IdentityServicer):
    def __init__(self, app: IdentityApp):
        self.app = app

    async def Resolve(self, request, context):
        wait = min(request.wait_ms or 10_000, MAX_WAIT_MS) / 1000
        persons, position = await self.app.resolve_after(
            [(i.type, i.value) for i in request.identifiers], request.after_position, wait
        )
        resolutions = [
            pb.Resolution(identifier=i, person_id=p) for i, p in zip(request.identifiers, persons, strict=True)
        ]
        return pb.ResolveResponse(resolutions=resolutions, position=position)

    async def GetPerson(self, request, context):
        return self.app.person(self.app.person_of(request.person_id, _identifier(request)))

    async def Forget(self, request, context):
        person_id = self.app.person_of(request.person_id, _identifier(request))
        person_id, destroyed, identifiers = await self.app.forget(person_id, current_caller().subject)
        return pb.ForgetResponse(person_id=person_id, keys_destroyed=destroyed, identifiers=identifiers)
