"""cdp.pii at any depth: by name, by value and inside URLs, sealed in place under the one field-name
rule, and read back (revealed, masked) at every depth. Real policies, decider and vault (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdp.api.common.v1 import event_pb2
from cdp.platform import config as config_module
from cdp.platform.classify import ValueRules
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.sealed import ERASED, param_field, params, replace_tokens, sealed, tokens_in
from cdp.platform.store import open_store
from cdp.platform.vault import is_token
from support.kernel import unit_of_work

POLICIES = Path(__file__).resolve().parents[2] / "policies"
EMAIL = "ada.deep@example.com"


@pytest.fixture(scope="module")
def rules() -> ValueRules:
    engine = make_engine("embedded", load_bundle(POLICIES))
    return ValueRules(engine.evaluate("data.cdp.pii.decision", {"fields": []})["value_patterns"])


@pytest.fixture
def personal(tmp_path):
    config = config_module.load("collector", ["--data-dir", str(tmp_path)])
    store = open_store(config.store, "collector")
    uow = unit_of_work(store, "collector")
    yield PersonalData(open_vault(config), uow.decider)
    store.close()


def call(**fields) -> event_pb2.Event:
    return event_pb2.Event(
        type="track", message_id="m1", user_id="u1", event="Viewed", **{k: json.dumps(v) for k, v in fields.items()}
    )


def protected(personal, **fields):
    event = call(**fields)
    decision_id, paths = personal.protect(event)
    return decision_id, paths, {name: json.loads(getattr(event, name) or "{}") for name in fields}


@pytest.mark.parametrize(
    "value",
    [
        EMAIL,
        "write to ADA@EXAMPLE.COM today",
        "ada%40example.com",
        "ada%2540example.com",
        "+44 7700 900123",
        "+1 (415) 555-0123",
        "(415) 555-0123",
        "06 12 34 56 78",
        "203.0.113.7",
        "2001:db8::1",
        "4111 1111 1111 1111",
        "card 5500-0000-0000-0004 on file",
        4111111111111111,
        "DE89 3704 0044 0532 0130 00",
        "078-05-1120",
        "00:1A:2B:3C:4D:5E",
        # In a sentence, after a scheme, before an extension, with 00 for the plus; not only ASCII.
        "call me on +44 7700 900404 after 6",
        "tel:+447700900303",
        "+1 415 555 0199 ext. 22",
        "0044 7700 900202",
        "ada.vp@exämple.de",
        "josé@vpmail.com",
        "203.0.113.77, 10.0.0.1",  # X-Forwarded-For
        "http://203.0.113.99:8080/login",  # a URL whose host is an address
        "https://[2001:db8::a1]:443/x",
    ],
)
def test_personal_values(rules, value):
    assert rules.match_value(value), value


@pytest.mark.parametrize(
    "value",
    [
        "shoes",
        "2024-01-15",
        "2024-01-15T10:00:00Z",
        "12:30:45",
        "1.2.3",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36",
        "4111 1111 1111 1112",  # fails Luhn
        1700000000000,  # a timestamp in milliseconds
        42.5,
        True,
        None,
        "user@localhost",
        "DE00 0000 0000 0000 0000 00",  # fails the IBAN checksum
        "999.999.999.999",
        "2024-05-01T10:00:00+01:00",
        "Mon, 01 May 2024 10:00:00 +0100",
        "v1.2.3+20240101",
        "0012345678",  # a zero-padded id, not 00 and a country code
        "order 12345678901",
        "price +12.50",
        "3.14, 2.71, 1.41",
        "http://example.com/1.2.3.4",
    ],
)
def test_values_that_only_look_alike(rules, value):
    assert not rules.match_value(value), value


def test_params_of_urls_query_strings_and_fragments():
    url = "https://x.io/p?email=ada%40x.io&utm=1#/signup?e=ada@x.io"
    found = [(p.marker, p.name, p.value, p.raw(url)) for p in params(url)]
    assert found == [
        ("?", "email", "ada@x.io", "ada%40x.io"),
        ("?", "utm", "1", "1"),
        ("#", "e", "ada@x.io", "ada@x.io"),
    ]
    assert [(p.name, p.value) for p in params("?e=a%40b.c&q=x+y")] == [("e", "a@b.c"), ("q", "x y")]
    assert [(p.name, p.value) for p in params("email=a@b.c&x=1")] == [("email", "a@b.c"), ("x", "1")]
    assert params("a sentence = not a query") == []
    assert params("https://x.io/no-query") == []


def test_a_phone_in_a_query_is_found_with_its_plus(personal):
    # Form decoding reads "+" as a space: the phone is judged as sent as well.
    _, paths, stored = protected(personal, properties={"sms": "https://x.example/sms?to=+447700900505&q=1"})
    assert paths == ["properties.sms?to"]
    assert "447700900505" not in stored["properties"]["sms"] and stored["properties"]["sms"].endswith("&q=1")


def test_every_depth_and_place_is_sealed_in_place(personal):
    _, paths, stored = protected(
        personal,
        properties={
            "contact": {"phone": "+44 7700 900123", "channel": "sms"},
            "items": [{"buyer": {"email": EMAIL}, "name": "Blue shoe", "price": 12.5}],
            "grid": [["a", EMAIL]],
            "note": f"mail {EMAIL}",
            "url": "https://x.io/p?email=ada%40x.io&utm_source=news#e=" + EMAIL,
            "search": "?e=ada%40x.io&q=shoes",
            "custom_ip": "203.0.113.7",
            "card": 4111111111111111,
            "total": 42.5,
            "paid": True,
        },
        traits={"addresses": [{"street": "1 Main St", "country": "UK"}], "plan": "pro"},
        context={
            "page": {"url": "https://x.io/?email=ada%40x.io", "title": "Home"},
            "location": {"city": "Leeds", "latitude": 53.8},
            "device": {"advertisingId": "ad-1", "id": "dev-1", "manufacturer": "Apple"},
            "library": {"name": "analytics.js", "version": "4.1.0"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "campaign": {"name": "spring", "content": f"hi {EMAIL}"},
            "externalIds": [{"id": EMAIL, "type": "email"}, {"id": "c-1", "type": "crm_id"}],
        },
    )
    assert paths == sorted(
        [
            "properties.contact.phone",
            "properties.items[0].buyer.email",
            "properties.grid[0][1]",
            "properties.note",
            "properties.url?email",
            "properties.url#e",
            "properties.search?e",
            "properties.custom_ip",
            "properties.card",
            "traits.addresses[0].street",
            "traits.addresses[0].country",  # inside a personal object: all of it
            "context.page.url?email",
            "context.location.city",
            "context.location.latitude",
            "context.device.advertisingId",
            "context.device.id",
            "context.campaign.content",
            "context.externalIds[0].id",
        ]
    )
    props, ctx = stored["properties"], stored["context"]
    # The shape stays; non-personal values stay as they were.
    assert props["contact"]["channel"] == "sms" and props["items"][0]["name"] == "Blue shoe"
    assert (props["total"], props["paid"], stored["traits"]["plan"]) == (42.5, True, "pro")
    assert ctx["library"] == {"name": "analytics.js", "version": "4.1.0"}
    assert (ctx["locale"], ctx["timezone"], ctx["device"]["manufacturer"]) == ("en-GB", "Europe/London", "Apple")
    assert ctx["externalIds"][1] == {"id": "c-1", "type": "crm_id"} and ctx["campaign"]["name"] == "spring"
    # A URL stays a URL: the personal parameter's value is the URL-encoded token.
    [email, utm] = [p for p in params(props["url"]) if p.marker == "?"]
    assert props["url"].startswith("https://x.io/p?email=pii%3Av1%3A") and is_token(email.value)
    assert (utm.name, utm.value) == ("utm_source", "news")
    assert EMAIL not in json.dumps(stored) and "ada%40x.io" not in json.dumps(stored)


def test_field_names_and_reveal_give_back_every_value(personal):
    sent = {
        "contact": {"phone": "+44 7700 900123"},
        "tags": ["x", EMAIL],
        "url": "https://x.io/p?email=ada%40x.io&utm=1",
    }
    _, _, stored = protected(personal, properties=sent)
    fields = sorted(f for f, _ in tokens_in(stored["properties"], "properties"))
    assert fields == sorted(["phone", "tags", param_field("url", "?", "email")])
    assert personal.reveal("user_id:u1", "track", "properties", stored["properties"]) == (sent, False)
    assert personal.reveal_object("user_id:u1", "track", stored["properties"]) == sent
    masked = replace_tokens(stored["properties"], "properties", lambda _f, _t: "***")
    assert masked == {"contact": {"phone": "***"}, "tags": ["x", "***"], "url": "https://x.io/p?email=***&utm=1"}
    erased = replace_tokens(stored["properties"], "properties", lambda _f, _t: ERASED)
    assert erased == {"contact": {"phone": None}, "tags": ["x", None], "url": "https://x.io/p?email=&utm=1"}


def test_an_email_in_a_urls_path_seals_the_whole_url(personal):
    _, paths, stored = protected(personal, properties={"url": f"https://x.io/u/{EMAIL}?x=1"})
    assert paths == ["properties.url"] and is_token(stored["properties"]["url"])


def test_sealing_twice_seals_nothing_more_and_lists_every_sealed_path(personal):
    event = call(properties={"contact": {"email": EMAIL}, "url": "https://x.io/?email=" + EMAIL})
    _, first = personal.protect(event)
    once = event.properties
    _, again = personal.protect(event)
    assert event.properties == once and again == first == ["properties.contact.email", "properties.url?email"]


def test_a_look_alike_token_is_classified_as_any_value(personal):
    fake = f"pii:v1:{EMAIL}:x"
    assert is_token(fake) and not sealed(fake)
    _, paths, stored = protected(personal, properties={"ref": fake})
    assert paths == ["properties.ref"] and sealed(stored["properties"]["ref"])


def test_one_recorded_decision_per_name_set(personal):
    first, _, _ = protected(personal, properties={"contact": {"email": EMAIL}})
    second, _, _ = protected(personal, properties={"contact": {"email": "other@example.com"}})
    third, _, _ = protected(personal, properties={"contact": {"email": EMAIL, "x": 1}})
    assert first == second != third
    records = personal.decider.take_records()
    assert len(records) == 2, "one record per distinct name set, whatever the values"
    assert not any(EMAIL.encode() in r.state for r in records), "names are recorded, never values"


def test_a_personal_value_as_a_parameter_name_is_never_a_decision_input(personal):
    _, paths, stored = protected(personal, properties={"url": f"https://x.io/?{EMAIL}=1&utm=x"})
    assert paths == ["properties.url"] and sealed(stored["properties"]["url"])
    records = personal.decider.take_records()
    assert records and not any(b"ada.deep" in r.state for r in records)


@pytest.mark.parametrize("lists", [False, True])  # a shape's plan, and the walk of a call with lists
def test_a_key_that_is_personal_data_seals_the_object_it_is_in(personal, lists):
    extra = {"tags": ["a", "b"]} if lists else {}
    properties = {
        "aliases": {EMAIL: True, "+44 7700 900101": "mobile"},
        "seen_ips": {"198.51.100.101": 3},
        "plan": "pro",
        "ada.top@example.com": 1,  # at the top of a field: moved into sealed_keys, sealed whole
        **extra,
    }
    _, paths, stored = protected(personal, properties=properties, traits={"by": {"x": {EMAIL: 1}}})
    props = stored["properties"]
    assert sorted(paths) == sorted(
        ["properties.aliases", "properties.seen_ips", "properties.sealed_keys", "traits.by.x"]
    ), paths
    assert all(sealed(props[k]) for k in ("aliases", "seen_ips", "sealed_keys")) and props["plan"] == "pro"
    text = json.dumps(stored)
    for clear in (EMAIL, "+44 7700 900101", "198.51.100.101", "ada.top@example.com"):
        assert clear not in text
    records = personal.decider.take_records()
    assert records and not any(b"ada.deep" in r.state or b"198.51.100.101" in r.state for r in records)
    assert not any(EMAIL in repr(shape) for shape in personal._plans), "a shape with a personal key is not kept"
    # Revealed, the objects are as sent (the top-level entry under sealed_keys).
    event = call(properties=props)
    revealed = personal.reveal_object(
        "user_id:u1", event.type, {k: props[k] for k in ("aliases", "seen_ips", "sealed_keys")}
    )
    assert revealed == {
        "aliases": {EMAIL: True, "+44 7700 900101": "mobile"},
        "seen_ips": {"198.51.100.101": 3},
        "sealed_keys": {"ada.top@example.com": 1},
    }


def test_plain_keys_are_not_looked_at(personal):
    _, paths, stored = protected(personal, properties={"First Name": "x", "first-name": "y", "$browser": "z"})
    assert "properties.First Name" in paths and "properties.first-name" in paths
    assert stored["properties"]["$browser"] == "z"


def test_a_sealed_keys_value_of_the_callers_own_is_kept_inside(personal):
    _, paths, stored = protected(personal, properties={"sealed_keys": "theirs", "ada.own@example.com": 1})
    assert paths == ["properties.sealed_keys"]
    token = stored["properties"]["sealed_keys"]
    assert personal.reveal_object("user_id:u1", "track", {"sealed_keys": token}) == {
        "sealed_keys": {"sealed_keys": "theirs", "ada.own@example.com": 1}
    }
