"""End to end: `cdp lineage` run as the CLI against the five services as processes.

A trait set by a client-side source and overwritten by a server-side one shows both calls, their
sources, decisions and the identity evidence that joined the first call's identifier to the person;
a delivery shows each field it carried or withheld and why, including a person's removal after
their consent was withdrawn.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cdp.api.policy.v1 import decision_pb2
from cdp.cli.main import main
from cdp.client.local import addresses
from support.calls import event, trait_condition
from support.platform_fixture import Client, running_platform, wait_until
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ANON, USER, EMAIL = "anon-lin", "user-lin", "lia@example.com"
GRANTED = {"consent": {"categoryPreferences": {"analytics": True}}}
DENIED = {"consent": {"categoryPreferences": {"analytics": False}}}
PLAN = {"identify": {"type": "object", "properties": {"plan": {"type": "string"}, "email": {"type": "string"}}}}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("lineage")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def cdp(platform):
    env = {f"CDP_{s.upper()}_ADDR": a for s, a in addresses(platform).items()}
    env |= {"CDP_DATA_DIR": str(platform.data_dir), "CDP_TOKEN": "", "CDP_SUBJECT": "pia@example.com"}

    def run(*args: str, role: str = "privacy_officer"):
        result = CliRunner().invoke(main, [*args, "--role", role], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.fixture(scope="module")
def calls(client):
    """A client-side identify (anonymous), a client-side call joining that id to the user id, and a
    server-side identify overwriting the plan. Returns the event ids and the sources."""
    web = client.create_source("lineage-web", server_side=False)
    backend = client.create_source("lineage-backend", server_side=True)
    client.collector.publish_plan("lineage-plan", PLAN, timeout=10)
    client.collector.assign_plan(backend.name, "lineage-plan", "allow", timeout=10)
    first = client.ingest(
        web.write_key,
        [
            event(
                "identify",
                "w-1",
                "2026-03-01T10:00:00Z",
                anonymous_id=ANON,
                traits={"plan": "free"},
            ),
            event("identify", "w-2", "2026-03-01T10:01:00Z", anonymous_id=ANON, user_id=USER),
        ],
    )
    second = client.ingest(
        backend.write_key,
        [
            event(
                "identify",
                "b-1",
                "2026-03-01T11:00:00Z",
                user_id=USER,
                traits={"plan": "pro", "email": EMAIL},
                context=GRANTED,
            )
        ],
    )
    ids = [a.event_id for a in (*first.acks, *second.acks)]
    assert all(ids), (first, second)
    wait_until(
        lambda: client.profile.get_profile(identifier=("user_id", USER), timeout=10).traits["plan"].value == '"pro"',
        timeout=30,
        what="the server-side plan on the profile",
    )
    return {"client": ids[0], "link": ids[1], "server": ids[2], "web": web, "backend": backend}


def test_a_trait_overwritten_server_side_shows_both_calls_sources_decisions_and_the_link(cdp, calls):
    lineage = json.loads(cdp("lineage", "trait", f"user_id={USER}", "plan", "--json"))
    assert json.loads(lineage["current"]["value"]) == "pro"
    assert lineage["current"]["event_id"] == calls["server"]
    server, client_side = lineage["settings"]
    assert (server["event_id"], server["current"], json.loads(server["value"])) == (calls["server"], True, "pro")
    assert (client_side["event_id"], client_side["current"], json.loads(client_side["value"])) == (
        calls["client"],
        False,
        "free",
    )
    assert server["source"] == {"id": calls["backend"].source_id, "side": "server"}
    assert client_side["source"] == {"id": calls["web"].source_id, "side": "client"}
    assert (server["message_id"], client_side["message_id"]) == ("b-1", "w-1")
    assert server["plan"] == {"name": "lineage-plan", "version": 1} and client_side["plan"] is None
    for setting in (server, client_side):
        kinds = {d["kind"]: d for d in setting["decisions"]}
        assert set(kinds) == {"collect", "pii"}
        assert kinds["collect"]["decision_id"] and kinds["collect"]["result"]["allow"] is True
        assert kinds["collect"]["entrypoint"] == "data.cdp.collect.decision"
        assert kinds["pii"]["decision_id"] and "revision" in kinds["pii"]
    assert "email" in {d["kind"]: d for d in server["decisions"]}["pii"]["result"]["personal"]

    # The server-side call came under the user id; the client call joining it to the anonymous id
    # (the person's first identifier) is the evidence that brought it to this person.
    assert server["identifier"] == {"type": "user_id", "value": USER}
    assert server["identity"]["anchor"] == {"type": "anonymous_id", "value": ANON}
    [link] = server["identity"]["links"]
    assert link["event_id"] == calls["link"] and link["decision_id"] and link["edge_id"]
    assert {link["a"]["value"], link["b"]["value"]} == {ANON, USER}
    assert client_side["identity"]["links"] == [], "the first identifier needs no link"

    text = cdp("lineage", "trait", f"user_id={USER}", "plan")
    assert f"[current] event {calls['server']} (identify)" in text
    assert f"[overwritten] event {calls['client']} (identify)" in text
    assert f"source {calls['backend'].source_id}, server-side; message id b-1" in text
    assert f"source {calls['web'].source_id}, client-side; message id w-1" in text
    assert f"evidence {link['edge_id']}: " in text and f"event {calls['link']}" in text
    assert "tracking plan lineage-plan version 1" in text and "no tracking plan" in text


def test_personal_values_are_masked_for_a_caller_who_may_not_see_them(client, cdp, calls):
    officer = json.loads(cdp("lineage", "trait", f"anonymous_id={ANON}", "email", "--purpose", "dsar", "--json"))
    assert json.loads(officer["settings"][0]["value"]) == EMAIL, "in clear for a privacy officer"
    [read] = [
        r
        for r in client.read_messages("profile", decision_pb2.AccessRecorded)
        if r.operation.endswith("/GetTraitLineage") and r.purpose == "dsar"
    ]
    assert (read.person_id, read.caller) == (officer["person_id"], "pia@example.com")
    assert set(read.fields) == {"settings[].traits.email", "traits.email"}, "the read in clear is recorded"
    out = cdp("lineage", "trait", f"anonymous_id={ANON}", "email", role="analyst")
    assert EMAIL not in out and "(masked)" in out
    analyst = json.loads(cdp("lineage", "trait", f"anonymous_id={ANON}", "email", "--json", role="analyst"))
    assert analyst["current"]["masked"] and analyst["settings"][0]["masked"]
    assert EMAIL not in json.dumps(analyst)
    # The analyst may not read the collector's log: that hop says so instead of failing.
    assert "PERMISSION_DENIED" in analyst["settings"][0]["collector"]["unavailable"]


def test_a_delivery_explains_each_field_sent_or_withheld_and_a_removal_for_consent(client, cdp, calls):
    marketer = client.platform.metadata("mia@example.com", ["marketer"])
    admin = client.platform.metadata("ada@example.com", ["admin"])
    audience = client.segment.create_audience(
        "Lineage pros", [trait_condition("plan", "eq", "pro")], metadata=marketer, timeout=30, purpose="marketing"
    )
    with WebhookReceiver() as hook:
        destination = client.activation.create_destination(
            "lineage hook", hook.url("/lineage"), "analytics", [audience.audience_id], metadata=admin, timeout=30
        )
        person_id = client.profile.get_profile(identifier=("user_id", USER), timeout=10).person_id

        def delivered(action: str):
            found = [
                d
                for d in client.activation.list_deliveries(destination.destination_id, limit=100, timeout=10)
                if d.person_id == person_id and d.action == action and d.status == "delivered"
            ]
            return found[-1] if found else None

        entered = wait_until(lambda: delivered("entered"), timeout=30, what="the entered delivery delivered")
        lineage = json.loads(cdp("lineage", "delivery", entered.delivery_id, "--json"))
        assert lineage["recorded"] is True
        assert lineage["delivery"]["delivery_id"] == entered.delivery_id
        assert lineage["sync"]["version"] == 1 and lineage["audience"] == {
            "audience_id": audience.audience_id,
            "version": 1,
        }
        assert lineage["cause"]["membership"]["entered"] is True
        assert lineage["cause"]["membership"]["audience_version"] == 1
        assert lineage["approval"]["status"] == "approved" and lineage["approval"]["decision_id"]
        assert lineage["approval"]["entrypoint"] == "data.cdp.sync.decision"
        assert lineage["egress"]["decision_id"] == entered.decision_id
        [used] = lineage["consent"]["used"]
        assert (used["category"], used["granted"], used["event_id"]) == ("analytics", True, calls["server"])
        assert lineage["consent"]["states"] == {"analytics": "granted"}
        fields = {f["trait"]: f for f in lineage["fields"]}
        assert fields["plan"]["sent"] is True
        assert fields["email"]["sent"] is False
        assert fields["email"]["reason"] == "class pii.contact not allowed for purpose analytics"
        assert fields["email"]["rule"].startswith("data.cdp.egress.decision@")
        assert {f["trait"] for f in lineage["fields"] if not f["sent"]} == set(entered.withheld)
        assert all(f["reason"] for f in lineage["fields"] if not f["sent"]), "every withheld field explained"
        text = cdp("lineage", "delivery", entered.delivery_id)
        assert "withheld email: class pii.contact not allowed for purpose analytics" in text
        assert "  sent     plan" in text and f"event {calls['server']}" in text

        # The person withdraws their consent: the destination is told to drop them, and why.
        backend = calls["backend"]
        client.ingest(
            backend.write_key,
            [event("track", "b-2", "2026-03-01T12:00:00Z", user_id=USER, event="Opted out", context=DENIED)],
        )
        exited = wait_until(lambda: delivered("exited"), timeout=30, what="the removal delivered")
        removal = json.loads(cdp("lineage", "delivery", exited.delivery_id, "--json"))
        assert removal["cause"]["removed_for_consent"] is True
        assert removal["consent"]["states"] == {"analytics": "denied"}
        assert removal["consent"]["used"][0]["granted"] is False
        assert removal["consent"]["remove"] is True
        withheld = [f for f in removal["fields"] if not f["sent"]]
        assert {f["trait"] for f in withheld} == set(exited.withheld) and withheld
        assert all(f["reason"] == "consent for analytics denied (needed by purpose analytics)" for f in withheld)
        assert not [f for f in removal["fields"] if f["sent"]]
        text = cdp("lineage", "delivery", exited.delivery_id)
        assert "the person was taken out of the destination: egress refused them" in text
        assert "refused: consent for analytics denied (needed by purpose analytics)" in text


def test_a_computed_trait_shows_its_definition_and_version(client, cdp, calls):
    marketer = client.platform.metadata("mia@example.com", ["marketer"])
    definition = {"event": "Lineage Viewed", "fn": "count"}
    client.profile.create_computed_trait("lineage_views", json.dumps(definition), metadata=marketer, timeout=30)
    client.ingest(
        calls["backend"].write_key,
        [event("track", "b-3", "2026-03-01T13:00:00Z", user_id=USER, event="Lineage Viewed")],
    )
    wait_until(
        lambda: (
            client.profile.get_profile(identifier=("user_id", USER), timeout=10).traits["lineage_views"].value == "1"
        ),
        timeout=30,
        what="the computed trait on the profile",
    )
    lineage = json.loads(cdp("lineage", "trait", f"user_id={USER}", "lineage_views", "--json"))
    assert lineage["current"]["computed"] == "lineage_views@1" and lineage["current"]["value"] == "1"
    computed = lineage["computed"]
    assert (computed["name"], computed["version"], computed["created_by"]) == ("lineage_views", 1, "mia@example.com")
    assert computed["definition"]["event"] == "Lineage Viewed" and computed["definition"]["fn"] == "count"
    assert computed["decision_id"] and lineage["settings"] == []
    text = cdp("lineage", "trait", f"user_id={USER}", "lineage_views")
    assert "computed: lineage_views version 1 by mia@example.com" in text


def test_bad_input_is_refused_by_name(cdp, platform):
    env = {f"CDP_{s.upper()}_ADDR": a for s, a in addresses(platform).items()}
    env |= {"CDP_DATA_DIR": str(platform.data_dir), "CDP_TOKEN": "", "CDP_SUBJECT": "pia@example.com"}
    result = CliRunner().invoke(main, ["lineage", "delivery", "not-a-uuid"], env=env)
    assert result.exit_code == 1 and "INVALID_ARGUMENT" in result.output and "delivery_id" in result.output
    result = CliRunner().invoke(main, ["lineage", "delivery", "00000000-0000-5000-8000-000000000000"], env=env)
    assert result.exit_code == 1 and "NOT_FOUND" in result.output and "delivery_id" in result.output
    result = CliRunner().invoke(main, ["lineage", "trait", "user_id=", "plan"], env=env)
    assert result.exit_code == 2 and "TYPE=VALUE" in result.output
    result = CliRunner().invoke(main, ["lineage", "trait", "user_id=nobody-here", "plan"], env=env)
    assert result.exit_code == 1 and "NOT_FOUND" in result.output
