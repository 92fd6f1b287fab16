"""End to end: tracking calls in over gRPC, an audience built under policy, a webhook out over HTTP.

The five services run as real processes (SQLite files in a temporary directory) and every call
crosses a real socket: gRPC to the services, HTTP from activation to a loopback webhook receiver.
"""

from __future__ import annotations

import json

import pytest

from cdp.api.activation.v1 import activation_pb2
from cdp.api.collector.v1 import collector_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.client import PermissionDenied
from support.calls import event, event_condition, ident, trait_condition
from support.platform_fixture import Client, running_platform, wait_until
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

AUDIENCE_DECISION = "data.cdp.audience.decision"
EGRESS_DECISION = "data.cdp.egress.decision"
ACCESS_DECISION = "data.cdp.access.decision"


def marketer(client: Client):
    return client.platform.metadata("mia@example.com", ["marketer"])


def admin(client: Client):
    return client.platform.metadata("ada@example.com", ["admin"])


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("pipeline")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def source(client):
    return client.create_source("pipeline-e2e", server_side=True)


# Helpers ---------------------------------------------------------------------------------------


def ingest_all_accepted(client: Client, source, events) -> dict[str, str]:
    """Ingest; every event must be accepted. Returns messageId -> event id."""
    response = client.ingest(source.write_key, events)
    assert [a.status for a in response.acks] == [collector_pb2.ACK_STATUS_ACCEPTED] * len(events), response
    return {e.message_id: a.event_id for e, a in zip(events, response.acks, strict=True)}


def person_of(client: Client, type_: str, value: str) -> str:
    return client.identity.get_person(identifier=ident(type_, value), timeout=10).person_id


def profile_by(client: Client, type_: str, value: str) -> profile_pb2.Profile:
    return client.profile.get_profile(identifier=ident(type_, value), timeout=10)


def decisions(client: Client, service: str) -> list[decision_pb2.DecisionRecorded]:
    return client.read_messages(service, decision_pb2.DecisionRecorded)


def decision_by_id(client: Client, service: str, decision_id: str) -> decision_pb2.DecisionRecorded:
    found = [d for d in decisions(client, service) if d.decision_id == decision_id]
    assert len(found) == 1, f"decision {decision_id} recorded {len(found)} times in {service}'s log"
    return found[0]


def deliveries_of(client: Client, destination_id: str, person_id: str) -> list[activation_pb2.Delivery]:
    deliveries = client.activation.list_deliveries(destination_id, limit=1000, timeout=10)
    return [d for d in deliveries if d.person_id == person_id]


def create_pro_buyers(client: Client, name: str, plan: str) -> segment_pb2.Audience:
    return client.segment.create_audience(
        name,
        [trait_condition("plan", "eq", plan), event_condition("Order Completed", 2)],
        metadata=marketer(client),
        timeout=30,
        purpose="marketing",
    )


def create_webhook(
    client: Client, name: str, url: str, audience_id: str, purpose: str = "analytics"
) -> activation_pb2.Destination:
    return client.activation.create_destination(name, url, purpose, [audience_id], metadata=admin(client), timeout=30)


# Tests -------------------------------------------------------------------------------------------


def test_calls_build_a_profile_an_audience_and_a_governed_webhook(client, source, receiver):
    user, anon = "user-ann", "anon-ann"
    events = [
        event(
            "identify",
            "p-1",
            "2024-03-01T10:00:00Z",
            user_id=user,
            anonymous_id=anon,
            traits={"email": "ann@example.com", "first_name": "Ann", "plan": "pro"},
            context={"consent": {"categoryPreferences": {"analytics": True}}},  # the analytics hook needs it
        ),
        event(
            "track",
            "p-2",
            "2024-03-01T10:01:00Z",
            user_id=user,
            event="Order Completed",
            properties={"order_id": "o-1", "total": 30.5},
        ),
        # The second order comes in anonymously: identity links it to Ann through the identify.
        event(
            "track",
            "p-3",
            "2024-03-01T10:02:00Z",
            anonymous_id=anon,
            event="Order Completed",
            properties={"order_id": "o-2", "total": 12},
        ),
        event("page", "p-4", "2024-03-01T10:03:00Z", user_id=user, name="Pricing", properties={"path": "/pricing"}),
        event("screen", "p-5", "2024-03-01T10:04:00Z", user_id=user, name="Checkout"),
        event(
            "group",
            "p-6",
            "2024-03-01T10:05:00Z",
            user_id=user,
            group_id="acme",
            traits={"name": "Acme Inc", "employees": 120, "industry": "tools"},
        ),
        event("alias", "p-7", "2024-03-01T10:06:00Z", user_id=user, previous_id="legacy-ann-42"),
    ]
    event_ids = ingest_all_accepted(client, source, events)

    # The profile, whichever identifier it is asked by (the alias's previousId included).
    def counted():
        p = profile_by(client, "user_id", user)
        return p if p.event_counts.get("$alias") == 1 and p.event_counts.get("Order Completed") == 2 else None

    profile = wait_until(counted, timeout=30, what="Ann's profile with all 7 calls")
    person_id = profile.person_id
    assert person_of(client, "user_id", user) == person_id
    # An alias's previous id never seen before is an anonymous id (it holds no data of its own).
    for type_, value in (("anonymous_id", anon), ("email", "ann@example.com"), ("anonymous_id", "legacy-ann-42")):
        assert profile_by(client, type_, value) == profile, f"GetProfile by {type_}"
    assert client.profile.get_profile(person_id, timeout=10) == profile

    assert dict(profile.event_counts) == {
        "$identify": 1,
        "Order Completed": 2,
        "$page": 1,
        "$screen": 1,
        "$group": 1,
        "$alias": 1,
    }
    assert profile.first_seen == "2024-03-01T10:00:00.000Z"
    assert profile.last_seen == "2024-03-01T10:06:00.000Z"
    # Names, not values, for the personal ones: how they read to this caller is the PII policy's business.
    assert set(profile.traits) == {"email", "first_name", "plan"}
    assert json.loads(profile.traits["plan"].value) == "pro"
    for name, value in profile.traits.items():  # provenance: the source and the call that set it
        assert (value.source_id, value.event_id, value.updated_at) == (
            source.source_id,
            event_ids["p-1"],
            "2024-03-01T10:00:00.000Z",
        ), name
    assert [a.group_id for a in profile.accounts] == ["acme"]
    account = profile.accounts[0]
    assert set(account.traits) == {"name", "employees", "industry"}  # "name" is classified personal (pii.name)
    assert json.loads(account.traits["employees"].value) == 120
    assert json.loads(account.traits["industry"].value) == "tools"
    assert all(v.event_id == event_ids["p-6"] and v.source_id == source.source_id for v in account.traits.values())

    # An audience a marketer may build; a destination an admin may activate it to.
    audience = create_pro_buyers(client, "Pro buyers", "pro")
    assert audience.created_by == "mia@example.com" and audience.version == 1 and audience.decision_id
    destination = create_webhook(client, "analytics hook", receiver.url("/analytics"), audience.audience_id)
    assert destination.purpose == "analytics"

    [entered] = receiver.wait_for(
        lambda r: (
            r.path == "/analytics" and r.body.get("type") == "audience.entered" and r.body.get("person_id") == person_id
        ),
        timeout=30,
    )
    body = entered.body
    assert body["audience"] == {"id": audience.audience_id, "name": "Pro buyers"}
    assert body["traits"] == {"plan": "pro"}, "only what cdp.egress allows for analytics leaves"
    assert "email" not in body["traits"] and "first_name" not in body["traits"]
    assert body["withheld"] == ["email", "first_name"]
    assert entered.headers.get("X-CDP-Delivery") == body["delivery_id"]
    assert client.segment.list_members(audience.audience_id, timeout=10) == [person_id]

    def delivered():
        found = [d for d in deliveries_of(client, destination.destination_id, person_id) if d.action == "entered"]
        return found if found and found[0].status == "delivered" else None

    [delivery] = wait_until(delivered, timeout=10, what="the entered delivery marked delivered")
    assert delivery.delivery_id == body["delivery_id"]
    assert delivery.attempts == 1 and delivery.audience_id == audience.audience_id
    assert list(delivery.withheld) == ["email", "first_name"]
    assert delivery.decision_id == body["decision_id"]

    # The decisions that gated it are in the deciding services' own logs.
    created = decision_by_id(client, "segment", audience.decision_id)
    assert created.entrypoint == AUDIENCE_DECISION and created.service == "segment"
    assert created.caller == "mia@example.com"
    assert json.loads(created.result)["allow"] is True
    created_input = json.loads(created.input)
    assert created_input["action"] == "create"
    assert created_input["caller"] == {"subject": "mia@example.com", "kind": "user", "roles": ["marketer"]}
    assert created_input["audience"] == {
        "name": "Pro buyers",
        "traits": ["plan"],
        "properties": [],
        "events": ["Order Completed"],
        "purpose": "marketing",
    }

    egress = decision_by_id(client, "activation", delivery.decision_id)
    assert egress.entrypoint == EGRESS_DECISION and egress.service == "activation"
    egress_input, egress_result = json.loads(egress.input), json.loads(egress.result)
    assert egress_input["destination"]["purpose"] == "analytics"
    assert egress_input["destination"]["id"] == destination.destination_id
    assert sorted(egress_input["properties"]) == ["email", "first_name", "plan"]
    assert "email" in egress_result["withheld"] and "first_name" in egress_result["withheld"]
    assert egress_result["allowed"] == ["plan"]

    activate = [
        d
        for d in decisions(client, "activation")
        if d.entrypoint == AUDIENCE_DECISION
        and json.loads(d.input)["action"] == "activate"
        and json.loads(d.input)["audience"]["name"] == "Pro buyers"
    ]
    assert len(activate) == 1 and json.loads(activate[0].result)["allow"] is True
    assert activate[0].caller == "ada@example.com"

    # Each service recorded the policy revision it decided with, with every source to rebuild it.
    for service, decision in (("segment", created), ("activation", egress)):
        revisions = client.read_messages(service, decision_pb2.PolicyRevisionActivated)
        assert [r.revision for r in revisions] == [decision.revision], service
        sources = dict(revisions[0].sources)
        assert revisions[0].service == service
        assert {"cdp/audience/audience.rego", "cdp/egress/egress.rego", "cdp/pii/pii.rego", "data/data.json"} <= set(
            sources
        )
        assert "package cdp.egress" in sources["cdp/egress/egress.rego"]
        assert "religion" in json.loads(sources["data/data.json"])["cdp"]["classification"]

    # Ann moves to the free plan: she leaves the audience and the webhook hears it.
    ingest_all_accepted(
        client, source, [event("identify", "p-8", "2024-03-02T09:00:00Z", user_id=user, traits={"plan": "free"})]
    )
    [exited] = receiver.wait_for(
        lambda r: (
            r.path == "/analytics" and r.body.get("type") == "audience.exited" and r.body.get("person_id") == person_id
        ),
        timeout=30,
    )
    assert exited.body["audience"]["id"] == audience.audience_id
    assert exited.body["traits"] == {"plan": "free"}
    assert exited.body["withheld"] == ["email", "first_name"]
    assert client.segment.list_members(audience.audience_id, timeout=10) == []

    def both_delivered():
        found = {d.action: d.status for d in deliveries_of(client, destination.destination_id, person_id)}
        return found if found == {"entered": "delivered", "exited": "delivered"} else None

    wait_until(both_delivered, timeout=10, what="entered and exited deliveries delivered")
    # Exactly one entered and one exited POST for Ann: nothing delivered twice.
    mine = [r.body["type"] for r in receiver.requests("/analytics") if r.body.get("person_id") == person_id]
    assert mine == ["audience.entered", "audience.exited"]


def test_refused_audiences_and_activation_are_denied_and_recorded(client, source):
    def refused(call, *args, metadata, **kwargs) -> str:
        with pytest.raises(PermissionDenied) as raised:
            call(*args, metadata=metadata, timeout=10, **kwargs)
        assert raised.value.decision_id and raised.value.decision_id in raised.value.details
        return raised.value.details

    # An analyst may not create audiences at all.
    details = refused(
        client.segment.create_audience,
        "Analyst's audience",
        [trait_condition("plan", "eq", "pro")],
        metadata=client.platform.metadata("al@example.com", ["analyst"]),
        purpose="marketing",
    )
    assert "al@example.com may not call /cdp.segment.v1.SegmentService/CreateAudience" in details

    # A marketer may not target a special-category trait.
    religion = refused(
        client.segment.create_audience,
        "By religion",
        [trait_condition("religion", "eq", "any")],
        metadata=marketer(client),
        purpose="marketing",
    )
    assert "religion" in religion and "sensitive.religion" in religion

    names = [a.name for a in client.segment.list_audiences(timeout=10)]
    assert "Analyst's audience" not in names and "By religion" not in names

    # The analyst was stopped at the door by cdp.access; the marketer by cdp.audience. Both are recorded.
    [access] = [
        d
        for d in decisions(client, "segment")
        if d.entrypoint == ACCESS_DECISION and json.loads(d.input)["caller"]["subject"] == "al@example.com"
    ]
    recorded = {
        json.loads(d.input)["audience"]["name"]: d
        for d in decisions(client, "segment")
        if d.entrypoint == AUDIENCE_DECISION
    }
    for decision, subject, text in (
        (access, "al@example.com", details),
        (recorded["By religion"], "mia@example.com", religion),
    ):
        result = json.loads(decision.result)
        assert result["allow"] is False and result["reasons"]
        assert decision.caller == subject
        assert decision.decision_id in text, "the refusal names the decision that made it"
    assert json.loads(access.input)["caller"]["roles"] == ["analyst"]
    assert json.loads(access.input)["method"] == "/cdp.segment.v1.SegmentService/CreateAudience"
    assert json.loads(recorded["By religion"].input)["audience"]["traits"] == ["religion"]

    # A marketer may build an audience but not activate it: only admin and service may.
    audience = create_pro_buyers(client, "Marketer only", "marketer-only")
    denied = refused(
        client.activation.create_destination,
        "sneaky",
        "http://127.0.0.1:9/never",
        "marketing",
        [audience.audience_id],
        metadata=marketer(client),
    )
    assert "activate" in denied
    assert "sneaky" not in [d.name for d in client.activation.list_destinations(timeout=10)]
    activate = [
        d
        for d in decisions(client, "activation")
        if d.entrypoint == AUDIENCE_DECISION and json.loads(d.input)["audience"]["name"] == "Marketer only"
    ]
    assert len(activate) == 1 and json.loads(activate[0].result)["allow"] is False
    assert activate[0].decision_id in denied


def test_failing_webhook_is_retried_until_delivered_and_every_attempt_is_logged(client, source, receiver):
    user = "user-bob"
    ingest_all_accepted(
        client,
        source,
        [
            event(
                "identify",
                "f-1",
                "2024-04-01T08:00:00Z",
                user_id=user,
                traits={"email": "bob@example.com", "plan": "enterprise"},
                context={"consent": {"categoryPreferences": {"analytics": True}}},  # the analytics hook needs it
            ),
            event("track", "f-2", "2024-04-01T08:01:00Z", user_id=user, event="Order Completed"),
            event("track", "f-3", "2024-04-01T08:02:00Z", user_id=user, event="Order Completed"),
        ],
    )
    wait_until(
        lambda: profile_by(client, "user_id", user).event_counts.get("Order Completed") == 2,
        timeout=30,
        what="Bob's profile",
    )
    person_id = person_of(client, "user_id", user)

    receiver.fail_first("/flaky", 2, status=500)
    audience = create_pro_buyers(client, "Enterprise buyers", "enterprise")
    destination = create_webhook(client, "flaky hook", receiver.url("/flaky"), audience.audience_id)

    receiver.wait_for(lambda r: r.path == "/flaky" and r.status == 200, timeout=30)
    posts = receiver.requests("/flaky")
    assert [r.status for r in posts] == [500, 500, 200]
    assert len({r.body["delivery_id"] for r in posts}) == 1, "every attempt carries the same delivery"
    assert all(r.body["type"] == "audience.entered" and r.body["person_id"] == person_id for r in posts)
    assert posts[0].body["traits"] == {"plan": "enterprise"} and posts[0].body["withheld"] == ["email"]

    def delivered():
        found = deliveries_of(client, destination.destination_id, person_id)
        return found if found and found[0].status == "delivered" else None

    [delivery] = wait_until(delivered, timeout=10, what="the flaky delivery marked delivered")
    assert delivery.attempts == 3
    assert delivery.delivery_id == posts[0].body["delivery_id"]

    attempts = [
        a
        for a in client.read_messages("activation", activation_pb2.DeliveryAttempted)
        if a.delivery_id == delivery.delivery_id
    ]
    assert [(a.attempt, a.ok, a.http_status) for a in attempts] == [(1, False, 500), (2, False, 500), (3, True, 200)]
    assert attempts[0].error == "HTTP 500" and attempts[2].error == ""
    dead = [
        d
        for d in client.read_messages("activation", activation_pb2.DeliveryDeadLettered)
        if d.delivery_id == delivery.delivery_id
    ]
    assert dead == []
    scheduled = [
        s
        for s in client.read_messages("activation", activation_pb2.DeliveryScheduled)
        if s.delivery_id == delivery.delivery_id
    ]
    assert len(scheduled) == 1 and scheduled[0].action == "entered"


def test_profile_of_a_merge_lists_the_merged_person(client, source):
    ingest_all_accepted(
        client,
        source,
        [
            event("track", "mg-1", "2024-06-01T08:00:00Z", anonymous_id="anon-mia", event="Product Viewed"),
            event("track", "mg-2", "2024-06-01T08:01:00Z", user_id="user-mia", event="Signed In"),
            event(
                "identify",
                "mg-3",
                "2024-06-01T08:02:00Z",
                user_id="user-mia",
                anonymous_id="anon-mia",
                traits={"plan": "pro"},
            ),
        ],
    )
    profile = wait_until(
        lambda: (p := profile_by(client, "user_id", "user-mia")) and sum(p.event_counts.values()) == 3 and p,
        timeout=30,
        what="the merged profile",
    )
    person = client.identity.get_person(identifier=ident("user_id", "user-mia"), timeout=10)
    assert len(person.merged_person_ids) == 1, "identity merged the anonymous and the user person"
    assert profile.person_id == person.person_id
    merged_id = person.merged_person_ids[0]
    by_merged_id = client.profile.get_profile(merged_id, timeout=10)
    assert by_merged_id.person_id == person.person_id
    assert list(profile.merged_person_ids) == [merged_id]


def test_alias_from_an_anonymous_id_joins_the_visitor_to_the_user(client, source):
    ingest_all_accepted(
        client,
        source,
        [
            event("track", "al-1", "2024-06-02T08:00:00Z", anonymous_id="anon-zoe", event="Product Viewed"),
            event("identify", "al-2", "2024-06-02T08:01:00Z", user_id="user-zoe", traits={"plan": "team"}),
        ],
    )
    ingest_all_accepted(
        client,
        source,
        [
            event("alias", "al-3", "2024-06-02T08:02:00Z", user_id="user-zoe", previous_id="anon-zoe"),
        ],
    )
    wait_until(
        lambda: profile_by(client, "user_id", "user-zoe").event_counts.get("$alias") == 1,
        timeout=30,
        what="the alias counted",
    )
    assert person_of(client, "anonymous_id", "anon-zoe") == person_of(client, "user_id", "user-zoe")
    profile = wait_until(
        lambda: (p := profile_by(client, "user_id", "user-zoe")).event_counts.get("Product Viewed") and p,
        timeout=5,
        what="the visitor's calls in the user's profile",
    )
    assert dict(profile.event_counts) == {"Product Viewed": 1, "$identify": 1, "$alias": 1}
