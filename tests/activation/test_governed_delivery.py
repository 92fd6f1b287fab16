"""Security-controlled activation in process, through the whole chain: a person's consent in the
egress decision (a revocation sends a removal, then nothing), four eyes on a sync of personal data,
the egress guard on a destination's address, and credentials that are never returned."""

from __future__ import annotations

import asyncio
import itertools

import orjson
import pytest

from cdp.activation.application import mapping_shape
from cdp.activation.approval import mapping_digest
from cdp.activation.destinations import guard
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.policy.v1 import decision_pb2
from cdp.platform import metrics
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from support.calls import event, trait_condition
from support.harness import ADMIN, MARKETER, Harness

CALLS = itertools.count()
OTHER_ADMIN = Caller("lee@example.com", ("admin",), "user")
DECISIONS = topic_of(decision_pb2.DecisionRecorded)


def identify(message_id: str, user: str, consent: dict | None = None, **traits):
    """An identify call, each later than the one before; consent as Segment's SDK sends it."""
    ts = f"2026-11-30T10:{next(CALLS) % 60:02d}:00Z"
    context = {"consent": {"categoryPreferences": consent}} if consent is not None else {}
    return event("identify", message_id, ts, user_id=user, traits=traits, context=context)


async def hook(h: Harness, purpose: str, path: str) -> pb.Destination:
    request = pb.CreateDestinationRequest(name=purpose, url=f"http://127.0.0.1:9/{path}", purpose=purpose)
    return await h.activation.create_destination(request, ADMIN)


async def upsert(h: Harness, destination_id: str, audience_id: str, *fields: str, by: Caller = ADMIN) -> pb.Sync:
    mapping = pb.Mapping(fields=[pb.FieldMapping(trait=f) for f in fields])
    request = pb.CreateSyncRequest(
        destination_id=destination_id, audience_id=audience_id, mode="upsert", mapping=mapping
    )
    return await h.activation.create_sync(request, by)


def received(h: Harness, path: str) -> list[dict]:
    return [r["body"] for r in h.destination.received if r["url"].endswith(f"/{path}")]


def decision(h: Harness, decision_id: str) -> dict:
    for n in h.stores["activation"].read(0, 100_000, DECISIONS):
        record = decode(n.topic, n.state)
        if record.decision_id == decision_id:
            return orjson.loads(record.result)
    raise AssertionError(f"decision {decision_id} not recorded")


class Urls:
    """FakeDestination records the URL of the destination it was opened for: one per destination."""

    def __init__(self, h: Harness):
        self.h = h
        self.by_destination: dict[str, str] = {}

    def opened(self, destination: pb.Destination, secrets: dict[str, str]):
        fake = self.h.destination

        class Bound:
            kind = "webhook"
            max_batch = 1

            async def send(self, messages):
                fake.url = destination.url
                return await fake.send(messages)

            async def close(self):
                pass

        return Bound()


def run(scenario):
    asyncio.run(scenario())


def test_revoked_marketing_consent_sends_a_removal_then_nothing_while_analytics_keeps_receiving(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            h.worker.open_destination = Urls(h).opened
            key = h.write_key()
            both = {"marketing": True, "analytics": True}
            await h.ingest(key, [identify("c1", "u1", both, tier="gold", plan="pro", email="ada@example.com")])
            await h.settle()
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.settle()
            marketing = await hook(h, "marketing", "marketing")
            analytics = await hook(h, "analytics", "analytics")
            crm = await upsert(h, marketing.destination_id, audience.audience_id, "email", "plan")
            stats = await upsert(h, analytics.destination_id, audience.audience_id, "plan")
            assert crm.approval == "pending" and stats.approval == "approved"  # analytics gets nothing personal
            await h.approve(crm.sync_id)
            await h.settle()
            assert [(b["type"], b["traits"]) for b in received(h, "marketing")] == [
                ("profile.upsert", {"email": "ada@example.com", "plan": "pro"})
            ]
            assert [b["traits"] for b in received(h, "analytics")] == [{"plan": "pro"}]

            # Marketing consent withdrawn (Segment's alias): the marketing destination gets the
            # person's removal, under the egress decision that asked for it.
            await h.ingest(key, [identify("c2", "u1", {"Advertising": False, "analytics": True})])
            await h.settle()
            removal = received(h, "marketing")[-1]
            assert removal["type"] == "profile.delete" and removal["traits"] == {}
            said = decision(h, removal["decision_id"])
            assert said["remove"] is True and said["consent"] == {"marketing": "denied"}
            assert len(received(h, "analytics")) == 1, "analytics holds what it had"

            # Then nothing more to marketing; analytics receives what egress allows.
            await h.ingest(key, [identify("c3", "u1", plan="max", email="ada@new.example.com")])
            await h.settle()
            assert len(received(h, "marketing")) == 2
            assert [b["traits"] for b in received(h, "analytics")] == [{"plan": "pro"}, {"plan": "max"}]

    run(scenario)


def test_a_person_without_consent_is_never_sent_to_a_marketing_destination(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("n1", "u1", None, tier="gold", email="bo@example.com")])
            await h.settle()
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.settle()
            marketing = await hook(h, "marketing", "m")
            made = await upsert(h, marketing.destination_id, audience.audience_id, "email")
            await h.approve(made.sync_id)
            await h.settle()
            assert h.destination.received == [] and h.activation.list_deliveries("", 10) == []

    run(scenario)


def test_four_eyes_nothing_sent_while_pending_not_by_its_author_and_a_mapping_change_resets(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("a1", "u1", None, tier="gold", plan="pro", email="cy@example.com")])
            await h.settle()
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.settle()
            support = await hook(h, "support", "s")  # needs no consent: approval alone decides
            made = await upsert(h, support.destination_id, audience.audience_id, "email", "plan")
            await h.settle()
            assert made.approval == "pending" and made.requires_approval and made.approval_decision_id
            assert [s.sync_id for s in h.activation.list_pending_syncs()] == [made.sync_id]
            assert not h.activation.may_send(made.sync_id)
            assert h.destination.received == [] and h.activation.list_deliveries("", 10) == []

            with pytest.raises(PermissionDenied, match="may not approve a sync they wrote"):
                await h.activation.decide_sync(made.sync_id, "approve", ADMIN)
            with pytest.raises(PermissionDenied, match="needs one of the roles"):
                await h.activation.decide_sync(made.sync_id, "approve", MARKETER)
            assert h.destination.received == []

            approved = await h.activation.decide_sync(made.sync_id, "approve", OTHER_ADMIN)
            assert approved.approval == "approved" and approved.approved_by == OTHER_ADMIN.subject
            await h.settle()
            assert [b["traits"] for b in (r["body"] for r in h.destination.received)] == [
                {"email": "cy@example.com", "plan": "pro"}
            ]

            # A new mapping is not what was approved: pending again, and nothing of it is sent.
            changed = await h.activation.update_sync(
                pb.UpdateSyncRequest(sync_id=made.sync_id, mapping=pb.Mapping(fields=[pb.FieldMapping(trait="email")])),
                ADMIN,
            )
            assert changed.approval == "pending" and not h.activation.may_send(made.sync_id)
            in_force = h.activation.fingerprint(changed).mapping
            assert in_force == mapping_digest(mapping_shape(changed)) != h.activation.fingerprint(made).mapping
            await h.ingest(key, [identify("a2", "u1", email="cy@new.example.com")])
            await h.settle()
            assert len(h.destination.received) == 1

            # Approved again (the author of the change may not): the new version's records go.
            await h.activation.decide_sync(made.sync_id, "approve", OTHER_ADMIN)
            await h.settle()
            assert h.destination.received[-1]["body"]["traits"] == {"email": "cy@new.example.com"}

            # A rejection stops it until a change is approved.
            edited = await h.activation.update_destination(
                pb.UpdateDestinationRequest(destination_id=support.destination_id, name="Support 2"), ADMIN
            )
            assert edited.version == 2 and h.activation.sync(made.sync_id).approval == "pending"
            rejected = await h.activation.decide_sync(made.sync_id, "reject", OTHER_ADMIN, reason="not this tool")
            assert (rejected.approval, rejected.approval_reason) == ("rejected", "not this tool")
            assert not h.activation.may_send(made.sync_id)

    run(scenario)


def test_a_sync_that_can_send_nothing_personal_is_approved_on_request(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            support = await hook(h, "support", "s")
            made = await upsert(h, support.destination_id, audience.audience_id, "plan", "tier")
            assert (made.approval, made.requires_approval) == ("approved", False)
            everything = await hook(h, "analytics", "a")  # every trait, but analytics allows no personal class
            request = pb.CreateSyncRequest(destination_id=everything.destination_id, audience_id=audience.audience_id)
            assert (await h.activation.create_sync(request, ADMIN)).approval == "approved"

    run(scenario)


def test_an_archived_audience_cannot_be_activated(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.segment.archive_audience(audience.audience_id, MARKETER)
            support = await hook(h, "support", "s")
            request = pb.CreateSyncRequest(destination_id=support.destination_id, audience_id=audience.audience_id)
            with pytest.raises(PermissionDenied, match="archived and may not be activated"):
                await h.activation.create_sync(request, ADMIN)

    run(scenario)


@pytest.mark.parametrize(
    "kind, url, config, field, rule",
    [
        ("webhook", "https://169.254.169.254/latest", {}, "config.url", "link-local"),
        ("webhook", "https://10.0.0.5/hook", {}, "config.url", "private"),
        ("webhook", "http://127.0.0.1:9/hook", {}, "config.url", "loopback"),
        ("postgres", "", {"dsn": "host=192.168.1.20 dbname=crm", "table": "t"}, "config.dsn.host", "private"),
        ("redis", "", {"url": "redis://[::1]:6379", "stream": "cdp"}, "config.url", "loopback"),
    ],
)
def test_destinations_on_this_machine_or_private_networks_are_refused_unless_local(
    tmp_path, monkeypatch, kind, url, config, field, rule
):
    monkeypatch.setattr(guard, "allowed_hosts", lambda data: ["*"])  # the allowlist lets any host

    async def scenario():
        async with Harness(tmp_path) as h:
            h.activation.allow_local = False  # a deployment
            settings = pb.DestinationSettings(config_json=orjson.dumps(config).decode())
            request = pb.CreateDestinationRequest(name="x", type=kind, url=url, purpose="support", settings=settings)
            with pytest.raises(InvalidArgument, match=rule) as refused:
                await h.activation.create_destination(request, ADMIN)
            assert refused.value.field == field
            assert h.activation.list_destinations() == []

    run(scenario)


def test_a_host_outside_the_allowlist_or_an_unknown_purpose_is_refused_naming_the_field(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            outside = pb.CreateDestinationRequest(name="x", url="https://hooks.example.com/x", purpose="support")
            with pytest.raises(InvalidArgument, match="not in the destinations allowlist") as refused:
                await h.activation.create_destination(outside, ADMIN)
            assert refused.value.field == "config.url"
            unknown = pb.CreateDestinationRequest(name="x", url="http://127.0.0.1:9/x", purpose="lead-scoring")
            with pytest.raises(InvalidArgument, match="unknown purpose") as refused:
                await h.activation.create_destination(unknown, ADMIN)
            assert refused.value.field == "settings.purposes[0]"
            bad = pb.CreateDestinationRequest(
                name="x",
                url="http://127.0.0.1:9/x",
                purpose="support",
                settings=pb.DestinationSettings(consent_categories=["newsletters"]),
            )
            with pytest.raises(InvalidArgument) as refused:
                await h.activation.create_destination(bad, ADMIN)
            assert refused.value.field == "settings.consent_categories[0]"
            assert h.activation.list_destinations() == []

    run(scenario)


def test_credentials_are_sealed_and_never_returned(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            dsn = "postgresql://crm:s3cret-pw@127.0.0.1:5432/test"
            settings = pb.DestinationSettings(config_json=orjson.dumps({"dsn": dsn, "table": "crm_members"}).decode())
            request = pb.CreateDestinationRequest(name="CRM", type="postgres", purpose="support", settings=settings)
            made = await h.activation.create_destination(request, ADMIN)
            assert made.secret_fields == ["dsn"] and orjson.loads(made.config_json) == {"table": "crm_members"}
            shown = [made, h.activation.destination(made.destination_id), *h.activation.list_destinations()]
            assert all("s3cret" not in str(d) for d in shown)
            stored = b"".join(n.state for n in h.stores["activation"].read(0, 10_000))
            assert b"s3cret" not in stored, "sealed in the store too"
            assert h.activation.secrets(made.destination_id) == {"dsn": dsn}
            # An edit keeps the secret it does not give anew.
            edited = await h.activation.update_destination(
                pb.UpdateDestinationRequest(
                    destination_id=made.destination_id,
                    settings=pb.DestinationSettings(config_json='{"table": "crm_people"}'),
                ),
                ADMIN,
            )
            assert edited.secret_fields == ["dsn"] and h.activation.secrets(made.destination_id) == {"dsn": dsn}
            assert orjson.loads(edited.config_json) == {"table": "crm_people"}
            with pytest.raises(InvalidArgument) as refused:
                bad = pb.DestinationSettings(config_json='{"table": "Not A Name"}')
                await h.activation.update_destination(
                    pb.UpdateDestinationRequest(destination_id=made.destination_id, settings=bad), ADMIN
                )
            assert refused.value.field == "config.table"

    run(scenario)


def test_delivery_metrics_count_outcomes_and_gauge_dead_letters(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            support = await hook(h, "support", "s")
            await upsert(h, support.destination_id, audience.audience_id, "tier")
            await h.ingest(key, [identify("m1", "u1", None, tier="gold")])
            await h.settle()
            h.destination.failures, h.destination.status = 1, 400
            await h.ingest(key, [identify("m2", "u2", None, tier="gold")])
            await h.settle()
            for _ in range(300):
                if h.activation.dead.get(support.destination_id):
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)

            def value(name: str, **labels: str) -> float:
                found = metrics.REGISTRY.get_sample_value(name, {"service": "activation", **labels})
                return found or 0.0

            d = support.destination_id
            assert value("cdp_deliveries_total", destination=d, outcome="delivered") == 1
            assert value("cdp_deliveries_total", destination=d, outcome="dead_lettered") == 1
            assert value("cdp_dead_letters", destination=d) == 1
            assert value("cdp_delivery_retry_queue", destination=d) == 0

    run(scenario)


def test_a_new_audience_definition_resets_approval_and_its_new_members_wait(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("v1", "u1", None, tier="gold", email="di@example.com")])
            await h.ingest(key, [identify("v2", "u2", None, tier="silver", email="ed@example.com")])
            await h.settle()
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.settle()
            support = await hook(h, "support", "s")
            made = await upsert(h, support.destination_id, audience.audience_id, "email")
            await h.approve(made.sync_id)
            await h.settle()
            assert [r["body"]["traits"] for r in h.destination.received] == [{"email": "di@example.com"}]

            # Silver members too now: a definition the approval was not of.
            await h.segment.update_audience(
                audience.audience_id, MARKETER, conditions=[trait_condition("tier", "neq", "bronze")]
            )
            await h.settle()
            assert h.activation.sync(made.sync_id).approval == "pending"
            assert len(h.destination.received) == 1, "the new member waits for approval"
            await h.approve(made.sync_id)
            await h.settle()
            assert h.destination.received[-1]["body"]["traits"] == {"email": "ed@example.com"}

    run(scenario)


def test_approval_states_survive_a_restart(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            audience = await h.segment.create_audience(
                "Gold", [trait_condition("tier", "eq", "gold")], MARKETER, purpose="marketing"
            )
            await h.segment.update_audience(  # version 2: each part of the fingerprint differs
                audience.audience_id, MARKETER, conditions=[trait_condition("tier", "neq", "bronze")]
            )
            support = await hook(h, "support", "s")
            approved = await upsert(h, support.destination_id, audience.audience_id, "email")
            await h.approve(approved.sync_id)
            waiting = await upsert(h, support.destination_id, audience.audience_id, "plan", "email")
            ids = approved.sync_id, waiting.sync_id
        async with Harness(tmp_path) as again:  # every application rebuilt from its store
            assert [again.activation.sync(i).approval for i in ids] == ["approved", "pending"]
            assert [again.activation.may_send(i) for i in ids] == [True, False]
            assert [s.sync_id for s in again.activation.list_pending_syncs()] == [waiting.sync_id]

    run(scenario)
