"""The right to erasure, end to end, on SQLite and on PostgreSQL.

A person sends their email, phone, name and IP address; an audience over a non-personal trait is
synced to a marketing webhook, which receives the contact data. Then `cdp forget` (the real CLI):
within about a second no byte of the platform's storage holds those values in clear, their events
still replay with the personal fields erased and the rest intact, their profile shows the personal
traits erased, the deliveries stay on record, and every later sync leaves without personal data.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.client import NotFound
from cdp.collector.suppression import FRESH_WITHIN_S
from cdp.platform.personal import subject_of
from cdp.platform.vault import Vault, blind_index, is_token, load_master_key, open_key_table
from support.calls import event, ident, trait_condition
from support.governance import (
    ingest_accepted,
    profile_by,
    restart,
    run_cli,
    search_postgres,
    search_tree,
    storage_search,
    store_config,
)
from support.platform_fixture import Client, log_tails, wait_until
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

USER, ANON = "user-forget-7f3a", "anon-forget-7f3a"
EMAIL, PHONE = "forget-me-7f3a@example.com", "+44 7700 900123"
FIRST, LAST, IP = "Zebedee", "Quixotefield", "203.0.113.77"
PERSONAL_TRAITS = {"email": EMAIL, "phone": PHONE, "first_name": FIRST, "last_name": LAST}
# Every clear form of their personal data the platform could keep: as sent, and as normalised.
NEEDLES = (EMAIL, PHONE, FIRST, LAST, IP, "+447700900123", EMAIL.upper())

OTHER_USER, OTHER_EMAIL = "user-keep-7f3a", "keep-me-7f3a@example.com"


@pytest.fixture
def receiver():
    with WebhookReceiver() as hook:
        yield hook


def open_vault(platform) -> Vault:
    config = store_config(platform)
    return Vault(open_key_table(config), load_master_key(config), cache_ttl=0)


def personal_fields(accepted: collector_pb2.EventAccepted) -> list[tuple[str, str, object]]:
    """(field, name, stored value) of each encrypted field of an accepted call."""
    out = []
    for path in accepted.encrypted_fields:
        top, name = path.rsplit(".", 1)
        holder = json.loads(getattr(accepted.event, top.split(".")[0]) or "{}")
        if top == "context.traits":
            holder = holder["traits"]
        out.append((path, name, holder[name]))
    return out


def their_accepted_events(client: Client) -> list[collector_pb2.EventAccepted]:
    return [
        a
        for a in client.read_messages("collector", collector_pb2.EventAccepted)
        if a.event.user_id == USER or a.event.anonymous_id == ANON
    ]


def body_text(received) -> str:
    return json.dumps(received.body, ensure_ascii=False) + json.dumps(received.headers, ensure_ascii=False)


def test_forget_erases_everywhere_and_later_syncs_carry_nothing_personal(platform, client, receiver, tmp_path):
    marketer = platform.metadata("mia@example.com", ["marketer"])
    source = client.create_source("forget-e2e", server_side=True)
    ids = ingest_accepted(
        client,
        source,
        [
            event(
                "identify",
                "fg-1",
                "2024-05-01T10:00:00Z",
                user_id=USER,
                anonymous_id=ANON,
                traits={**PERSONAL_TRAITS, "plan": "pro"},
                context={"consent": {"categoryPreferences": {"marketing": True}}},
            ),
            event(
                "track",
                "fg-2",
                "2024-05-01T10:01:00Z",
                user_id=USER,
                event="Order Completed",
                properties={"order_id": "o-7f3a", "total": 42.5, "currency": "GBP"},
            ),
            # Before they signed in: the visitor's call, with their IP address, under the anonymous id.
            event(
                "page",
                "fg-3",
                "2024-05-01T09:59:00Z",
                anonymous_id=ANON,
                name="Pricing",
                properties={"path": "/pricing"},
                context={"ip": IP},
            ),
            event(
                "identify",
                "fg-4",
                "2024-05-01T10:02:00Z",
                user_id=OTHER_USER,
                traits={"email": OTHER_EMAIL, "plan": "pro"},
                context={"consent": {"categoryPreferences": {"marketing": True}}},
            ),
        ],
    )

    def complete():
        p = profile_by(client, "user_id", USER)
        return p if p.event_counts.get("Order Completed") == 1 and p.event_counts.get("$page") == 1 else None

    before = wait_until(complete, timeout=30, what="the person's profile with all their calls")
    person_id = before.person_id
    for name, value in PERSONAL_TRAITS.items():
        assert json.loads(before.traits[name].value) == value and not before.traits[name].erased, name
    assert profile_by(client, "email", EMAIL).person_id == person_id
    wait_until(lambda: profile_by(client, "user_id", OTHER_USER), timeout=30, what="the other person's profile")

    # An audience over a non-personal trait, synced to a destination that may receive contact data.
    audience = client.segment.create_audience(
        "Pro plan (forget)", [trait_condition("plan", "eq", "pro")], metadata=marketer, timeout=30, purpose="marketing"
    )
    destination = client.activation.create_destination(
        "marketing hook", receiver.url("/marketing"), "marketing", [audience.audience_id], timeout=30
    )
    client.approve_syncs()  # four eyes: it sends personal data
    [entered] = receiver.wait_for(lambda r: r.path == "/marketing" and r.body.get("person_id") == person_id, timeout=30)
    assert entered.body["type"] == "audience.entered"
    assert entered.body["traits"] == {**PERSONAL_TRAITS, "plan": "pro"}, "marketing may receive contact data"

    def delivered():
        found = [
            d
            for d in client.activation.list_deliveries(destination.destination_id, limit=1000, timeout=10)
            if d.person_id == person_id
        ]
        return found if found and found[0].status == "delivered" else None

    [delivery] = wait_until(delivered, timeout=10, what="the delivery marked delivered")

    # The search can fail: the same search finds every value where it is in clear, here the bodies
    # the webhook received (written out as files, searched as the data directory is).
    bodies = tmp_path / "received"
    bodies.mkdir()
    for i, r in enumerate(receiver.requests()):
        (bodies / f"{i}.json").write_bytes(body_text(r).encode("utf-8"))
    assert set(search_tree(bodies, [EMAIL, PHONE, FIRST, LAST])) == {EMAIL, PHONE, FIRST, LAST}
    # ... and the storage search reaches the stores: non-personal values of the same calls are there
    # (the order id in the collector's events, the audience name in segment's, the hook in activation's).
    controls = ["o-7f3a", "Pro plan (forget)", receiver.url("/marketing")]
    config = store_config(platform)
    reached = (
        search_postgres(config.postgres_dsn, config.schema_prefix, controls)
        if config.kind == "postgres"
        else search_tree(platform.data_dir, controls)
    )
    assert set(reached) == set(controls), reached

    # Before: their personal fields are tokens that decrypt (so that "no longer decrypts" can fail).
    accepted_before = their_accepted_events(client)
    assert len(accepted_before) == 3
    vault = open_vault(platform)
    try:
        sealed = [(a, f) for a in accepted_before for f in personal_fields(a)]
        assert {name for _, (_, name, _) in sealed} == {"email", "phone", "first_name", "last_name", "ip"}
        for accepted, (path, name, token) in sealed:
            assert is_token(token), path
            subject = subject_of(accepted.event.user_id, accepted.event.anonymous_id)
            assert vault.decrypt(subject, accepted.event.type, name, token) is not None, path
    finally:
        vault.table.close()

    # Forget them, through the real CLI, as a privacy officer.
    done = run_cli(platform, "forget", "--user-id", USER, "--subject", "dpo@example.com", "--role", "privacy_officer")
    forgotten_at = time.monotonic()
    assert done.returncode == 0, done.stderr + done.stdout
    # The calls' keys (user and anonymous id) and the email's and phone's own: identity seals each
    # personal identifier under its own subject.
    assert f"forgot person {person_id}: 4 key(s) destroyed across 4 identifier(s)" in done.stdout, done.stdout

    # Within about a second, no byte of storage holds their personal data in clear.
    wait_until(
        lambda: not storage_search(platform, NEEDLES),
        timeout=1.0,
        interval=0.05,
        what="no personal value in clear anywhere in storage",
    )
    assert time.monotonic() - forgotten_at < 1.5
    assert (
        search_tree(platform.data_dir, [blind_index(load_master_key(store_config(platform)), "email", EMAIL)]) == {}
    ), "the email's blind index outlives the forget"

    # Their events still replay: every call is there, the non-personal fields intact, the personal
    # fields tokens that no longer decrypt.
    accepted_after = their_accepted_events(client)
    assert [a.event_id for a in accepted_after] == [a.event_id for a in accepted_before]
    assert {a.event.message_id: a.event_id for a in accepted_after} == {k: v for k, v in ids.items() if k != "fg-4"}
    by_message = {a.event.message_id: a for a in accepted_after}
    track = by_message["fg-2"].event
    assert (track.type, track.event, track.user_id) == ("track", "Order Completed", USER)
    assert json.loads(track.properties) == {"order_id": "o-7f3a", "total": 42.5, "currency": "GBP"}
    identify = json.loads(by_message["fg-1"].event.traits)
    assert identify["plan"] == "pro"
    assert json.loads(by_message["fg-3"].event.properties) == {"path": "/pricing"}
    assert by_message["fg-3"].event.name == "Pricing"
    vault = open_vault(platform)
    try:
        for accepted in accepted_after:
            for path, name, token in personal_fields(accepted):
                assert is_token(token), path
                subject = subject_of(accepted.event.user_id, accepted.event.anonymous_id)
                assert vault.decrypt(subject, accepted.event.type, name, token) is None, f"{path} still decrypts"
        # Someone else's data is untouched.
        [other] = [
            a for a in client.read_messages("collector", collector_pb2.EventAccepted) if a.event.user_id == OTHER_USER
        ]
        [(_, _, other_token)] = personal_fields(other)
        assert vault.decrypt(subject_of(OTHER_USER, ""), "identify", "email", other_token) == json.dumps(OTHER_EMAIL)
    finally:
        vault.table.close()

    # The profile, read as admin (who may see personal data in clear): personal traits erased, once
    # profile has followed identity's forget (its cached keys last 0.5 s; under load it lags more).
    def erased() -> profile_pb2.Profile | None:
        profile = profile_by(client, "user_id", USER)
        return profile if all(profile.traits[n].erased for n in PERSONAL_TRAITS) else None

    after = wait_until(erased, timeout=10, what="the profile with its personal traits erased")
    assert after.person_id == person_id
    for name in PERSONAL_TRAITS:
        trait = after.traits[name]
        assert trait.erased and not trait.masked and json.loads(trait.value) is None, (name, trait)
    assert json.loads(after.traits["plan"].value) == "pro" and not after.traits["plan"].erased
    assert dict(after.event_counts) == dict(before.event_counts)
    assert (after.first_seen, after.last_seen) == (before.first_seen, before.last_seen)
    assert not any(n in after.SerializeToString().decode("utf-8", "replace") for n in NEEDLES)
    with pytest.raises(NotFound):
        profile_by(client, "email", EMAIL)
    assert json.loads(profile_by(client, "user_id", OTHER_USER).traits["email"].value) == OTHER_EMAIL

    # Their calls are dropped at the collector now, until a privacy officer lifts the suppression
    # (say, they signed up again and consented): from at most FRESH_WITHIN_S after the forget, while
    # identity answers (an identity away right after the forget leaves a collector's list as it was).
    time.sleep(max(0.0, forgotten_at + FRESH_WITHIN_S - time.monotonic()))
    ingest_accepted(
        client, source, [event("identify", "fg-dropped", "2024-05-02T09:00:00Z", user_id=USER, traits={"plan": "vip"})]
    )
    dropped = client.read_messages("collector", collector_pb2.EventSuppressed)
    taken = [m.event.message_id for m in client.read_messages("collector", collector_pb2.EventAccepted)]
    assert [(m.message_id, m.identifier_type) for m in dropped] == [("fg-dropped", "user_id")], (
        f"accepted: {'fg-dropped' in taken}\n{log_tails(platform)}"
    )

    # Identity rebuilt from its own events (a restart) still does not know the email.
    restart(platform, "identity")
    client.reconnect("identity")
    assert client.identity.get_person(identifier=ident("user_id", USER), timeout=10).person_id == person_id
    with pytest.raises(NotFound):
        profile_by(client, "email", EMAIL)

    # Memberships and deliveries stay on record.
    assert person_id in client.segment.list_members(audience.audience_id, timeout=10)
    listed = client.activation.list_deliveries(destination.destination_id, limit=1000, timeout=10)
    assert delivery.delivery_id in [d.delivery_id for d in listed]
    assert next(d for d in listed if d.delivery_id == delivery.delivery_id).status == "delivered"

    # A new destination for the audience syncs its current members: they go without personal data.
    second = client.activation.create_destination(
        "marketing hook 2", receiver.url("/marketing-2"), "marketing", [audience.audience_id], timeout=30
    )
    client.approve_syncs()  # four eyes: it sends personal data
    [synced] = receiver.wait_for(
        lambda r: r.path == "/marketing-2" and r.body.get("person_id") == person_id, timeout=30
    )
    assert synced.body["type"] == "audience.entered"
    assert synced.body["traits"] == {"plan": "pro"}
    assert not [n for n in NEEDLES if n in body_text(synced)], body_text(synced)
    # ... while someone not forgotten still goes with theirs.
    [kept] = receiver.wait_for(lambda r: r.path == "/marketing-2" and r.body.get("person_id") != person_id, timeout=30)
    assert kept.body["traits"]["email"] == OTHER_EMAIL

    # ... and still after identity's restart, until the suppression is lifted.
    ingest_accepted(
        client, source, [event("track", "fg-dropped-2", "2024-05-02T09:30:00Z", user_id=USER, event="Seen")]
    )
    dropped = client.read_messages("collector", collector_pb2.EventSuppressed)
    assert [m.message_id for m in dropped] == ["fg-dropped", "fg-dropped-2"]
    officer = client.as_user("dpo@example.com", ["privacy_officer"])
    assert officer.identity.lift_suppression(("user_id", USER), "signed up again", timeout=10) is True
    attempts = itertools.count()

    def taken_again():
        message_id = f"fg-probe-{next(attempts)}"  # a dropped call's messageId stays dropped: a new one each try
        ingest_accepted(client, source, [event("identify", message_id, "2024-05-02T09:00:00Z", user_id=USER)])
        accepted = client.read_messages("collector", collector_pb2.EventAccepted)
        return any(m.event.message_id == message_id for m in accepted) or None

    wait_until(taken_again, what="the collector taking their calls again")
    # A membership change after the forget: they move to the free plan and leave the audience.
    ingest_accepted(
        client, source, [event("identify", "fg-5", "2024-05-02T10:00:00Z", user_id=USER, traits={"plan": "free"})]
    )
    exits = receiver.wait_for(
        lambda r: r.body.get("person_id") == person_id and r.body.get("type") == "audience.exited", timeout=30, count=2
    )
    assert {r.path for r in exits} == {"/marketing", "/marketing-2"}
    for r in exits:
        assert r.body["traits"] == {"plan": "free"}, r.body
        assert not [n for n in NEEDLES if n in body_text(r)], body_text(r)
    assert second.destination_id in [d.destination_id for d in client.activation.list_destinations(timeout=10)]

    # And still nothing in clear anywhere, logs included.
    assert storage_search(platform, NEEDLES) == {}
