"""gRPC adapter of identity."""

from __future__ import annotations

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.api.identity.v1 import identity_pb2_grpc
from cdp.identity.application import IdentityApp
from cdp.platform.accesslog import AccessLog, Read, purpose_of
from cdp.platform.auth import current_caller
from cdp.platform.errors import InvalidArgument, NotFound

MAX_WAIT_MS = 30_000
MAX_PAGE = 10_000


def _identifier(request, name: str = "identifier") -> tuple[str, str] | None:
    if not request.HasField(name):
        return None
    found = getattr(request, name)
    return (found.type, found.value)


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, app: IdentityApp, access: AccessLog):
        self.app = app
        self.access = access  # where each read in clear is recorded before it is answered

    def _person(self, request) -> str:
        return self.app.person_of(request.person_id, _identifier(request))

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
        return pb.GetPersonResponse(person=self.app.person(self._person(request)))

    async def Forget(self, request, context):
        identifier = _identifier(request)
        unknown = not request.person_id and identifier and all(identifier) and not self.app.resolve(*identifier)
        if unknown and identifier:  # no person has it: what the quarantine holds under it goes
            forgotten = self.app.forget_identifier(*identifier, current_caller().subject)
        else:
            forgotten = self.app.forget(self._person(request), current_caller().subject)
        person_id, destroyed, identifiers, suppressed = await forgotten
        return pb.ForgetResponse(
            person_id=person_id, keys_destroyed=destroyed, identifiers=identifiers, suppressed=suppressed
        )

    async def LiftSuppression(self, request, context):
        identifier = _identifier(request)
        if not identifier or not identifier[0] or not identifier[1]:
            raise InvalidArgument("identifier", "give the suppressed identifier's type and value")
        lifted = await self.app.lift_suppression(*identifier, request.reason, current_caller().subject)
        return pb.LiftSuppressionResponse(lifted=lifted)

    async def Explain(self, request, context):
        if request.person_id:
            person_id = self.app.person_of(request.person_id, None)
            a = self.app.graph.anchor[person_id]
        else:
            a = self.app.identifier_of(_identifier(request, "a") or ("", ""), "a")
        b = self.app.identifier_of(_identifier(request, "b") or ("", ""), "b") if request.HasField("b") else None
        return self.app.explain(a, b)

    async def GetHistory(self, request, context):
        return pb.GetHistoryResponse(entries=self.app.history(self._person(request)))

    async def Retract(self, request, context):
        target = request.WhichOneof("target")
        if target is None:
            raise InvalidArgument("target", "give an event_id, an identifier or an edge_id")
        value = _identifier(request) if target == "identifier" else getattr(request, target)
        return await self.app.retract(target, value, request.reason, request.basis, current_caller().subject)

    async def Split(self, request, context):
        person_id = self.app.person_of(request.person_id, None)
        part = [self.app.identifier_of((i.type, i.value), "identifiers") for i in request.identifiers] or None
        splits = await self.app.split(person_id, part, request.reason, current_caller().subject)
        return pb.SplitResponse(splits=splits)

    async def ListReviews(self, request, context):
        return pb.ListReviewsResponse(reviews=self.app.reviews(min(request.page_size or 100, MAX_PAGE)))

    async def DecideReview(self, request, context):
        if not request.review_id:
            raise InvalidArgument("review_id", "give the review's id")
        return await self.app.decide_review(request.review_id, request.approve, request.reason, current_caller())

    async def Train(self, request, context):
        return await self.app.train(request.max_pairs, current_caller().subject)

    async def ListIdentifiers(self, request, context):
        try:
            after = int(request.page_token or 0)
        except ValueError:
            raise InvalidArgument("page_token", "not a token this service gave") from None
        if after < 0:
            raise NotFound("page_token: no such page")
        caller = current_caller()
        purpose = purpose_of(request.purpose, caller.method)
        clear = request.clear_values and caller.pii_clear
        rows, following, revealed = self.app.identifiers_page(after, min(request.page_size or 1000, MAX_PAGE), clear)
        # The page leaves only once each person's identifiers read in clear are recorded.
        await self.access.record(caller, [Read(p, fields) for p, fields in revealed.items()], purpose=purpose)
        return pb.ListIdentifiersResponse(rows=rows, next_page_token=str(following) if following else "")
