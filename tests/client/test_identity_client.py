"""The identity client against a fake IdentityService on a real loopback port: every RPC of the
evidence graph's API, its request as the server sees it, paging, and the async twin.

FakeIdentity and serving() are shared with tests/cli/test_identity_cli.py, which serves the fake
with the platform's mutual TLS so that the CLI connects to it as it would to the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator

import grpc
import pytest

from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.client import AsyncIdentityClient, IdentityClient, NotFound, PermissionDenied, Retry, Unavailable
from cdp.platform.tokens import InvalidToken, TokenVerifier

FAST = Retry(tries=3, first_backoff_s=0.01, max_backoff_s=0.02)
I = identity_pb2.Identifier  # noqa: E741


def ident(kind: str, value: str) -> identity_pb2.Identifier:
    return I(type=kind, value=value)


# One person, p-1: a user id, an anonymous id, an email and a phone (held as their blind index,
# in clear only for callers allowed), a CRM id; linked by a call and by the matching model.
EMAIL, PHONE = ident("email", "bi:3f2a"), ident("phone", "bi:77c1")
CLEAR = {"bi:3f2a": "ana@example.com", "bi:77c1": "+61400000000"}
IDENTIFIERS = [ident("user_id", "u-1"), ident("anonymous_id", "a-1"), EMAIL, PHONE, ident("crm_id", "c-9")]
SEEN = identity_pb2.Evidence(
    edge_id="e-1",
    a=ident("user_id", "u-1"),
    b=ident("anonymous_id", "a-1"),
    event_id="ev-1",
    rule="seen-together",
    rule_version="policy-3",
    score=1.0,
    active=True,
    decision_id="d-1",
    at="2026-11-30T09:00:00Z",
)
MATCHED = identity_pb2.Evidence(
    edge_id="e-2",
    a=ident("anonymous_id", "a-1"),
    b=EMAIL,
    rule="probabilistic",
    rule_version="m-7",
    score=0.97,
    active=True,
    decision_id="d-2",
    at="2026-11-30T10:00:00Z",
    weights=[
        identity_pb2.FieldWeight(field="email", level="exact", weight=8.25),
        identity_pb2.FieldWeight(field="name", level="jaro-winkler>0.9", weight=3.5),
    ],
)
REFUSED = identity_pb2.Evidence(
    edge_id="e-3",
    a=ident("user_id", "u-1"),
    b=ident("user_id", "u-2"),
    event_id="ev-3",
    rule="seen-together",
    rule_version="policy-3",
    score=1.0,
    active=False,
    decision_id="d-3",
    reason="two user ids in one call",
    at="2026-11-30T11:00:00Z",
)
SPLIT = identity_pb2.PersonSplit(
    person_id="p-1",
    parts=[
        identity_pb2.PersonPart(person_id="p-1", identifiers=[ident("user_id", "u-1")]),
        identity_pb2.PersonPart(person_id="p-9", identifiers=[ident("anonymous_id", "a-1")]),
    ],
    reason="shared device",
    actor="ops@example.com",
)
HELD = identity_pb2.Evidence(
    edge_id="e-4",
    a=ident("anonymous_id", "a-1"),
    b=ident("email", "bi:90d1"),
    rule="probabilistic",
    rule_version="m-7",
    score=0.88,
    active=False,
    held=True,
    decision_id="d-4",
    reason="score in the review band",
    weights=[identity_pb2.FieldWeight(field="name", level="exact", weight=4.0)],
)
REVIEW = identity_pb2.Review(
    review_id="r-1",
    evidence=HELD,
    person_a="p-1",
    person_b="p-4",
    band="0.8-0.95",
    requested_at="2026-12-01T08:00:00Z",
)


class FakeIdentity(identity_pb2_grpc.IdentityServiceServicer):
    """The evidence graph's API over one fixed person p-1 (and rows of ListIdentifiers to page
    through). Keeps every request by method, and the caller's roles when given a verifier; then, as
    the service under cdp.access, refuses ListIdentifiers to a caller without one of its roles, and
    gives personal values in clear only to a caller with a role of pii_clear_roles (to any other,
    their blind index)."""

    def __init__(self, rows: int = 7, verifier: TokenVerifier | None = None, failures: int = 0):
        self.requests: dict[str, list] = {}
        self.roles: list[tuple[str, ...]] = []
        self.rows = [identity_pb2.IdentifierRow(identifier=IDENTIFIERS[i % 5], person_id=f"p-{i}") for i in range(rows)]
        self.verifier = verifier
        self.failures = failures  # UNAVAILABLE to the first `failures` calls of each method

    async def _seen(self, name: str, request, context) -> tuple[str, ...]:
        self.requests.setdefault(name, []).append(request)
        if len(self.requests[name]) <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        roles: tuple[str, ...] = ()
        if self.verifier is not None:
            token = dict(context.invocation_metadata()).get("authorization", "").removeprefix("Bearer ")
            try:
                claims = self.verifier.verify(token)
            except InvalidToken as error:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, error.reason)
            roles = claims.roles
            self.roles.append(roles)
        return roles

    async def _person(self, person_id: str, identifier, context) -> identity_pb2.Person:
        known = person_id == "p-1" or any(
            identifier.type == i.type and identifier.value in (i.value, CLEAR.get(i.value)) for i in IDENTIFIERS
        )
        if not known:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no person {person_id or identifier.value}")
        return identity_pb2.Person(
            person_id="p-1", identifiers=IDENTIFIERS, merged_person_ids=["p-2"], probabilistic=True
        )

    async def GetPerson(self, request, context):
        await self._seen("GetPerson", request, context)
        return identity_pb2.GetPersonResponse(person=await self._person(request.person_id, request.identifier, context))

    async def Forget(self, request, context):
        await self._seen("Forget", request, context)
        await self._person(request.person_id, request.identifier, context)
        return identity_pb2.ForgetResponse(person_id="p-1", keys_destroyed=5, identifiers=5, suppressed=4)

    async def LiftSuppression(self, request, context):
        await self._seen("LiftSuppression", request, context)
        return identity_pb2.LiftSuppressionResponse(lifted=request.identifier.value != "never-forgotten")

    async def Explain(self, request, context):
        await self._seen("Explain", request, context)
        await self._person(request.person_id, request.a, context)
        if request.HasField("b"):
            await self._person("", request.b, context)
            return identity_pb2.ExplainResponse(
                person_a="p-1", person_b="p-1", same_person=True, path=[SEEN, MATCHED], refused=[REFUSED]
            )
        return identity_pb2.ExplainResponse(person_a="p-1", path=[SEEN, MATCHED], refused=[REFUSED])

    async def GetHistory(self, request, context):
        await self._seen("GetHistory", request, context)
        await self._person(request.person_id, request.identifier, context)
        return identity_pb2.GetHistoryResponse(
            entries=[
                identity_pb2.HistoryEntry(
                    at="2026-11-30T09:00:00Z",
                    kind="merged",
                    person_id="p-1",
                    other_person_ids=["p-2"],
                    edge_id="e-1",
                    event_id="ev-1",
                    decision_id="d-1",
                ),
                identity_pb2.HistoryEntry(
                    at="2026-11-30T11:00:00Z",
                    kind="refused",
                    person_id="p-1",
                    edge_id="e-3",
                    event_id="ev-3",
                    decision_id="d-3",
                    reason="two user ids in one call",
                ),
                identity_pb2.HistoryEntry(
                    at="2026-12-01T07:00:00Z",
                    kind="split",
                    person_id="p-1",
                    other_person_ids=["p-9"],
                    reason="shared device",
                    actor="ops@example.com",
                ),
            ]
        )

    async def Retract(self, request, context):
        await self._seen("Retract", request, context)
        if not request.reason:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reason: required")
        return identity_pb2.RetractResponse(retracted=2, splits=[SPLIT])

    async def Split(self, request, context):
        await self._seen("Split", request, context)
        await self._person(request.person_id, I(), context)
        return identity_pb2.SplitResponse(splits=[SPLIT])

    async def ListReviews(self, request, context):
        await self._seen("ListReviews", request, context)
        return identity_pb2.ListReviewsResponse(reviews=[REVIEW])

    async def DecideReview(self, request, context):
        await self._seen("DecideReview", request, context)
        if request.review_id != "r-1":
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no review {request.review_id}")
        if not request.approve:
            return identity_pb2.DecideReviewResponse(decision_id="d-11")
        merged = identity_pb2.PersonsMerged(survivor_id="p-1", merged_id="p-4", edge_id="e-2", decision_id="d-10")
        return identity_pb2.DecideReviewResponse(decision_id="d-10", merges=[merged])

    async def Train(self, request, context):
        await self._seen("Train", request, context)
        summary = {"email": {"exact": {"m": 0.9, "u": 0.001}}}
        return identity_pb2.TrainResponse(
            model_version="m-8", records=120, candidate_pairs=4000, links=37, reviews=5, summary=json.dumps(summary)
        )

    async def ListIdentifiers(self, request, context):
        roles = await self._seen("ListIdentifiers", request, context)
        if self.verifier is not None and not {"admin", "data_steward", "privacy_officer", "analyst"} & set(roles):
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "ops may not call /cdp.identity.v1.IdentityService/ListIdentifiers: needs one of the roles "
                "[admin, analyst, data_steward, privacy_officer] (decision d-99)",
            )
        clear = request.clear_values and (self.verifier is None or bool({"admin", "privacy_officer"} & set(roles)))
        start = int(request.page_token or 0)
        page = self.rows[start : start + (request.page_size or 100)]
        rows = []
        for original in page:
            row = identity_pb2.IdentifierRow()
            row.CopyFrom(original)  # a copy: the fake's own rows stay as they are
            if clear:
                row.identifier.value = CLEAR.get(row.identifier.value, row.identifier.value)
            rows.append(row)
        after = start + len(page)
        return identity_pb2.ListIdentifiersResponse(
            rows=rows, next_page_token=str(after) if after < len(self.rows) else ""
        )


@contextlib.contextmanager
def serving(servicer, credentials: grpc.ServerCredentials | None = None) -> Iterator[str]:
    """A grpc.aio server of the servicer on a free loopback port (with TLS when given credentials),
    on its own thread and loop; yields its address."""
    ready, state = threading.Event(), {}

    async def main():
        server = grpc.aio.server()
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)
        if credentials is None:
            state["port"] = server.add_insecure_port("127.0.0.1:0")
        else:
            state["port"] = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        state["stop"], state["loop"] = asyncio.Event(), asyncio.get_running_loop()
        ready.set()
        await state["stop"].wait()
        await server.stop(0)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"127.0.0.1:{state['port']}"
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


@pytest.fixture
def fake():
    return FakeIdentity()


@pytest.fixture
def identity(fake):
    with serving(fake) as address, grpc.insecure_channel(address) as channel:
        yield IdentityClient(channel, timeout=5, retry=FAST)


def test_explain_between_two_identifiers_or_all_of_a_person(identity, fake):
    between = identity.explain(("user_id", "u-1"), ("email", "ana@example.com"))
    assert between.same_person and [e.edge_id for e in between.path] == ["e-1", "e-2"]
    first = between.path[1].weights[0]
    assert (first.field, first.level, first.weight) == ("email", "exact", 8.25)
    sent = fake.requests["Explain"][-1]
    assert (sent.a.type, sent.a.value, sent.b.type, sent.b.value) == ("user_id", "u-1", "email", "ana@example.com")

    everything = identity.explain(person_id="p-1")
    assert [e.edge_id for e in everything.refused] == ["e-3"]
    sent = fake.requests["Explain"][-1]
    assert sent.person_id == "p-1" and not sent.HasField("a") and not sent.HasField("b")


def test_history_is_the_list_of_entries(identity, fake):
    entries = identity.history(identifier=("user_id", "u-1"))
    assert [e.kind for e in entries] == ["merged", "refused", "split"]
    assert isinstance(entries, list)
    assert fake.requests["GetHistory"][-1].identifier.value == "u-1"
    with pytest.raises(NotFound):
        identity.history("p-nobody")


def test_retract_takes_exactly_one_target(identity, fake):
    done = identity.retract(event_id="ev-1", reason="wrong merge", basis="GDPR Art. 16 rectification")
    assert done.retracted == 2 and done.splits[0].parts[1].person_id == "p-9"
    sent = fake.requests["Retract"][-1]
    assert (sent.WhichOneof("target"), sent.event_id, sent.reason, sent.basis) == (
        "event_id",
        "ev-1",
        "wrong merge",
        "GDPR Art. 16 rectification",
    )
    identity.retract(identifier=("crm_id", "c-9"), reason="typo")
    assert fake.requests["Retract"][-1].WhichOneof("target") == "identifier"
    identity.retract(edge_id="e-2", reason="typo")
    assert fake.requests["Retract"][-1].edge_id == "e-2"
    for wrong in ({}, {"event_id": "ev-1", "edge_id": "e-2"}):
        with pytest.raises(ValueError, match="exactly one"):
            identity.retract(reason="x", **wrong)
    assert len(fake.requests["Retract"]) == 3, "nothing sent for a wrong call"


def test_split_reviews_decide_train_and_lift(identity, fake):
    splits = identity.split("p-1", [("anonymous_id", "a-1")], reason="shared device")
    assert [p.person_id for p in splits[0].parts] == ["p-1", "p-9"]
    sent = fake.requests["Split"][-1]
    assert [(i.type, i.value) for i in sent.identifiers] == [("anonymous_id", "a-1")] and sent.reason == "shared device"

    assert [r.review_id for r in identity.reviews(page_size=10)] == ["r-1"]
    assert fake.requests["ListReviews"][-1].page_size == 10
    approved = identity.decide_review("r-1", True, "same person")
    assert approved.decision_id == "d-10" and approved.merges[0].merged_id == "p-4"
    assert identity.decide_review("r-1", False, "different people").decision_id == "d-11"
    assert fake.requests["DecideReview"][-1].reason == "different people"

    trained = identity.train(max_pairs=1000)
    assert (trained.model_version, trained.links) == ("m-8", 37)
    assert fake.requests["Train"][-1].max_pairs == 1000

    assert identity.lift_suppression(("email", "ana@example.com"), "consent given again") is True
    assert identity.lift_suppression(("email", "never-forgotten")) is False
    assert fake.requests["LiftSuppression"][0].reason == "consent given again"


def test_identifiers_page_through_every_row_with_page_tokens(identity, fake):
    rows = list(identity.identifiers(page_size=3))
    assert [r.person_id for r in rows] == [f"p-{i}" for i in range(7)]
    sent = fake.requests["ListIdentifiers"]
    assert [(r.page_token, r.page_size) for r in sent] == [("", 3), ("3", 3), ("6", 3)]
    page = identity.list_identifiers(page_size=5, clear_values=True)
    assert page.next_page_token == "5" and page.rows[2].identifier.value == "ana@example.com"


def test_reads_are_retried_and_one_shot_writes_are_not():
    fake = FakeIdentity(failures=1)
    with serving(fake) as address, grpc.insecure_channel(address) as channel:
        identity = IdentityClient(channel, timeout=5, retry=FAST)
        assert identity.explain(person_id="p-1").person_a == "p-1"
        assert len(fake.requests["Explain"]) == 2
        assert identity.retract(edge_id="e-1", reason="r").retracted == 2, "retract is retried on UNAVAILABLE"
        with pytest.raises(Unavailable):
            identity.split("p-1")
        with pytest.raises(Unavailable):
            identity.train()
        assert (len(fake.requests["Split"]), len(fake.requests["Train"])) == (1, 1)


def test_the_async_twin_pages_and_maps_errors(fake):
    async def main():
        with serving(fake) as address:
            async with grpc.aio.insecure_channel(address) as channel:
                identity = AsyncIdentityClient(channel, timeout=5)
                rows = [r.person_id async for r in identity.identifiers(page_size=4)]
                entries = await identity.history("p-1")
                with pytest.raises(NotFound):
                    await identity.decide_review("r-404", True)
                return rows, [e.kind for e in entries]

    rows, kinds = asyncio.run(main())
    assert rows == [f"p-{i}" for i in range(7)] and kinds == ["merged", "refused", "split"]


def test_personal_values_in_clear_only_for_a_caller_allowed(tmp_path):
    from cdp.platform.security import credentials

    creds = credentials(tmp_path)
    fake = FakeIdentity(verifier=creds.verifier())

    def values(roles: list[str]) -> list[str]:
        token = creds.issuer().issue("ops", roles)
        identity = IdentityClient(channel, metadata=(("authorization", f"Bearer {token}"),), timeout=5)
        return [r.identifier.value for r in identity.identifiers(clear_values=True)][2:4]

    with serving(fake) as address, grpc.insecure_channel(address) as channel:
        assert values(["privacy_officer"]) == ["ana@example.com", "+61400000000"]
        assert values(["analyst"]) == ["bi:3f2a", "bi:77c1"], "not allowed: the blind index, not refused"
        with pytest.raises(PermissionDenied) as refused:
            values(["marketer"])
        assert refused.value.decision_id == "d-99"
