"""Forget leaves nothing at any depth, on SQLite and on PostgreSQL.

A person's values go in at every depth and place a call has: nested objects, arrays of objects and
of arrays, under names no policy lists, inside URLs' queries and fragments (percent-encoded once and
twice), in context (page, location, device, campaign, externalIds), as numbers. None of it is
stored in clear (a byte scan of the data directory and of a dump of the PostgreSQL schemas, for each
value as sent, lower-cased, percent-encoded and JSON-escaped), nested traits show masked to an
analyst and in clear to an admin, and after `cdp forget` the scan still finds nothing and the
nested traits read as erased.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.platform.personal import subject_of
from cdp.platform.sealed import tokens_in
from support.calls import event
from support.governance import (
    ingest_accepted,
    profile_by,
    run_cli,
    storage_search,
    store_config,
)
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e

USER, ANON = "user-depth-9c2e", "anon-depth-9c2e"
EMAIL = "Forget.Deep-9c2e@Example.com"
LOWER = EMAIL.lower()
PHONE, MOBILE = "+44 7700 900456", 447700900789
STREET, CITY = "17 Quillfeather Lane", "Zyxwbury"
STRASSE = "Rüdesheimer Straße 9c2e"  # JSON-escaped it is R\u00fcdesheimer Stra\u00dfe
AD_ID = "AEBE52E7-03EE-455A-B3C4-9C2E83966239"
CARD, IBAN, IP, IP6 = "4539 1488 0343 6467", "GB82 WEST 1234 5698 7654 32", "198.51.100.92", "2001:db8::9c2e"
LATITUDE = 51.7315926

VALUES = [EMAIL, PHONE, STREET, CITY, STRASSE, AD_ID, CARD, IBAN, IP, IP6, str(MOBILE), str(LATITUDE)]


def forms(value: str) -> set[str]:
    """Every clear form a value could be kept in."""
    out = {value, value.lower(), value.upper(), json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}
    out |= {quote(v, safe="") for v in (value.lower(), quote(value, safe=""))}
    return out


NEEDLES = sorted(
    {f for v in VALUES for f in forms(v)}
    | {"forget.deep-9c2e", "Forget.Deep-9c2e", "+447700900456", "447700900456", "4539148803436467", "GB82WEST"}
)


def calls():
    pct = quote(EMAIL, safe="")
    return [
        event(
            "identify",
            "dp-1",
            "2024-05-01T10:00:00Z",
            user_id=USER,
            anonymous_id=ANON,
            traits={
                "plan": "pro",
                "contact": {"email": EMAIL, "channel": "sms"},
                "addresses": [{"street": STREET, "city": CITY, "kind": "home"}, {"street": STRASSE}],
                "loyalty": {"card_on_file": CARD},
            },
            context={"traits": {"backup": {"mail": LOWER}}, "externalIds": [{"id": EMAIL, "type": "email"}]},
        ),
        event(
            "track",
            "dp-2",
            "2024-05-01T10:01:00Z",
            user_id=USER,
            event="Order Completed",
            properties={
                "order_ref": "ord-9c2e-keep",
                "contact": {"phone": PHONE, "mobile": MOBILE},  # a number-typed phone
                "items": [{"sku": "sku-9c2e", "buyer": {"email": EMAIL}}],
                "matrix": [["x", [LOWER]]],  # arrays of arrays
                "shopper_note": EMAIL,  # a name no policy lists
                "url": f"https://shop.example/checkout?email={pct}&utm_source=mail9c2e#ref={EMAIL}",
                "search": f"?e={quote(pct, safe='')}&q=boots9c2e",  # percent-encoded twice
                "referrer": f"https://ref.example/?mail={LOWER}",
                "deep_link": f"app://open#/signup?who={pct}",
                "payment_ref": CARD,
                "payout": {"account": IBAN},
                "edge_host": IP,
                "edge_host6": IP6,
            },
            context={
                "page": {
                    "url": f"https://shop.example/?email={pct}",
                    "search": f"?email={pct}",
                    "referrer": f"https://mail.example/read?to={EMAIL}",
                    "title": "Checkout",
                },
                "location": {"city": CITY, "latitude": LATITUDE, "country": "GB"},
                "device": {"advertisingId": AD_ID, "manufacturer": "Apple"},
                "campaign": {"name": "spring9c2e", "content": f"sent to {EMAIL}"},
                "ip": IP,
                "library": {"name": "analytics.js", "version": "5.2.1"},
                "locale": "en-GB",
            },
        ),
    ]


def test_values_at_every_depth_are_never_in_clear_and_forget_leaves_nothing(platform, client):
    analyst = platform.metadata("ann@example.com", ["analyst"])
    source = client.create_source("depth-e2e", server_side=True)
    ingest_accepted(client, source, calls())

    def complete():
        p = profile_by(client, "user_id", USER)
        return p if p.event_counts.get("Order Completed") == 1 and "contact" in p.traits else None

    before = wait_until(complete, timeout=30, what="the person's profile with both calls")
    # Identity found the email inside the sealed externalIds and traits: the profile by email.
    assert profile_by(client, "email", EMAIL).person_id == before.person_id

    # Nested personal traits: clear for an admin, masked for an analyst, at every depth.
    assert json.loads(before.traits["contact"].value) == {"email": EMAIL, "channel": "sms"}
    assert json.loads(before.traits["addresses"].value)[1] == {"street": STRASSE}
    masked = profile_by(client, "user_id", USER, metadata=analyst)
    assert json.loads(masked.traits["contact"].value) == {"email": "***", "channel": "sms"}
    assert masked.traits["contact"].masked
    assert json.loads(masked.traits["addresses"].value) == [
        {"street": "***", "city": "***", "kind": "***"},
        {"street": "***"},
    ]
    assert json.loads(masked.traits["plan"].value) == "pro" and not masked.traits["plan"].masked
    assert not [n for n in NEEDLES if n in masked.SerializeToString().decode("utf-8", "replace")]

    # The accepted calls list where they were sealed, and only values are tokens: the shape stays.
    accepted = {
        a.event.message_id: a
        for a in client.read_messages("collector", collector_pb2.EventAccepted)
        if a.event.user_id == USER
    }
    track = accepted["dp-2"]
    assert {
        "properties.contact.phone",
        "properties.contact.mobile",
        "properties.items[0].buyer.email",
        "properties.matrix[0][1][0]",
        "properties.shopper_note",
        "properties.url?email",
        "properties.url#ref",
        "properties.search?e",
        "properties.referrer?mail",
        "properties.deep_link#who",
        "properties.payment_ref",
        "properties.payout.account",
        "properties.edge_host",
        "properties.edge_host6",
        "context.page.url?email",
        "context.page.search?email",
        "context.page.referrer?to",
        "context.location.city",
        "context.location.latitude",
        "context.device.advertisingId",
        "context.campaign.content",
        "context.ip",
    } <= set(track.encrypted_fields)
    properties = json.loads(track.event.properties)
    assert properties["order_ref"] == "ord-9c2e-keep" and properties["items"][0]["sku"] == "sku-9c2e"
    assert "utm_source=mail9c2e" in properties["url"] and properties["url"].startswith("https://shop.example/checkout?")
    assert json.loads(track.event.context)["library"] == {"name": "analytics.js", "version": "5.2.1"}
    assert {"traits.contact.email", "traits.addresses[1].street", "context.externalIds[0].id"} <= set(
        accepted["dp-1"].encrypted_fields
    )

    # The scan reaches the stores (non-personal values of the same calls are found) ...
    controls = ["ord-9c2e-keep", "sku-9c2e", "mail9c2e", "boots9c2e", "spring9c2e"]
    assert set(storage_search(platform, controls)) == set(controls)
    # ... and finds no form of any of their values, before the forget already.
    assert storage_search(platform, NEEDLES) == {}

    done = run_cli(platform, "forget", "--user-id", USER, "--subject", "dpo@example.com", "--role", "privacy_officer")
    assert done.returncode == 0, done.stderr + done.stdout

    def erased():
        p = profile_by(client, "user_id", USER)
        contact = json.loads(p.traits["contact"].value)
        return p if contact.get("email") is None else None

    after = wait_until(erased, timeout=10, what="the nested traits erased")
    assert json.loads(after.traits["contact"].value) == {"email": None, "channel": "sms"}
    assert json.loads(after.traits["addresses"].value) == [
        {"street": None, "city": None, "kind": None},
        {"street": None},
    ]
    assert json.loads(after.traits["plan"].value) == "pro"
    wait_until(lambda: not storage_search(platform, NEEDLES), timeout=2, interval=0.1, what="nothing in clear")
    assert storage_search(platform, NEEDLES) == {}

    # Every token of their calls, at every depth, is sealed under their key, gone now.
    from cdp.platform.vault import open_vault

    vault = open_vault(store_config(platform), cache_ttl=0)
    try:
        for a in accepted.values():
            subject = subject_of(a.event.user_id, a.event.anonymous_id)
            for top in ("properties", "traits", "context"):
                found = list(tokens_in(json.loads(getattr(a.event, top) or "{}"), top))
                texts = vault.decrypt_many((subject, a.event.type, f, t) for f, t in found)
                assert texts == [None] * len(found), top
    finally:
        vault.table.close()
