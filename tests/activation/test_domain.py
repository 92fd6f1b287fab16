"""Activation rules: destinations, payloads, backoff."""

from __future__ import annotations

import random
import re

import pytest

from cdp.activation import domain


def test_payload_carries_only_allowed_traits():
    body = domain.payload(
        delivery_id="d",
        action="entered",
        audience_id="a",
        audience_name="A",
        person_id="p",
        traits={"plan": "pro", "email": "x@y.z"},
        allowed=["plan"],
        withheld=["email"],
        decision_id="dec",
        at="t",
    )
    assert body["traits"] == {"plan": "pro"}
    assert body["withheld"] == ["email"]
    assert body["type"] == "audience.entered"
    assert "x@y.z" not in repr(body)


def test_backoff_is_full_jitter_under_an_exponential_cap():
    rng = random.Random(1)
    for attempt in range(1, 30):
        cap = min(domain.FIRST_BACKOFF_S * 2 ** (attempt - 1), 60.0)
        draws = [domain.backoff(attempt, 60.0, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in draws)
        assert max(draws) > cap * 0.8 and min(draws) < cap * 0.2  # spread over the whole range


LIMITS = domain.Limits(retry_window_s=60.0, max_backoff_s=1.0)


def verdict(**fields):
    given = dict(ok=False, retryable=True, retry_after_s=None, disable=False, attempt=1, elapsed_s=0.0)
    return domain.after_attempt(**{**given, **fields}, limits=LIMITS, rng=random.Random(0))


def test_what_follows_an_attempt():
    assert verdict(ok=True).kind == "delivered"
    retry = verdict()
    assert retry.kind == "retry" and 0 <= retry.delay_s <= 1.0
    assert verdict(retryable=False).kind == "dead_letter"  # a 400: at once
    assert verdict(disable=True, retryable=False).kind == "disable"  # a 410
    assert verdict(retry_after_s=7.0) == domain.Verdict("retry", 7.0)  # Retry-After honoured
    assert verdict(elapsed_s=59.9, retry_after_s=1.0).kind == "dead_letter"  # past the window
    assert verdict(elapsed_s=30.0, attempt=400).kind == "retry"  # attempts do not count, the window does


def test_limits_default_and_refuse_by_field():
    assert domain.check_limits(0, 0, 0, 0) == domain.Limits()
    assert domain.check_limits(60, 1, 2, 5) == domain.Limits(60.0, 1.0, 2, 5.0)
    with pytest.raises(domain.InvalidDestination, match=r"^settings\.retry_window_s:"):
        domain.check_limits(-1, 0, 0, 0)
    with pytest.raises(domain.InvalidDestination, match=r"^settings\.concurrency:"):
        domain.check_limits(0, 0, 10_000, 0)


def test_a_mapping_selects_renames_and_adds_constants():
    mapping = domain.check_sync("upsert", [("email", "Email"), ("plan", "")], {"source": '"cdp"'})
    assert mapping.traits({"plan", "email", "age"}) == ["email", "plan"]
    body = domain.payload(
        delivery_id="d",
        action="upsert",
        audience_id="a",
        audience_name="A",
        person_id="p",
        traits={"plan": "pro", "email": "x@y.z", "age": 3},
        allowed=["plan", "email", "age"],
        withheld=[],
        decision_id="dec",
        at="t",
        mapping=mapping,
    )
    assert body["type"] == "profile.upsert"
    assert body["traits"] == {"Email": "x@y.z", "plan": "pro", "age": 3, "source": "cdp"}
    assert domain.fingerprint({"plan": "pro"}) != domain.fingerprint({"plan": "team"})


@pytest.mark.parametrize(
    "mode, fields, constants, message",
    [
        ("sometimes", [], {}, "mode"),
        ("upsert", [("", "x")], {}, "mapping.fields[0].trait"),
        ("upsert", [("a", "x"), ("b", "x")], {}, "mapping.fields[1].to"),
        ("upsert", [("a", "")], {"a": "1"}, "mapping.constants.a"),
        ("upsert", [], {"k": "not json"}, "mapping.constants.k"),
    ],
)
def test_sync_rules_name_the_field(mode, fields, constants, message):
    with pytest.raises(domain.InvalidSync, match=f"^{re.escape(message)}:"):
        domain.check_sync(mode, fields, constants)


@pytest.mark.parametrize(
    "args, message",
    [
        (("", "webhook", "http://x", "analytics"), "name"),
        (("n", "email", "http://x", "analytics"), "type"),
        (("n", "webhook", "ftp://x", "analytics"), "url"),
        (("n", "webhook", "http://x", " "), "purpose"),
    ],
)
def test_destination_rules_name_the_field(args, message):
    with pytest.raises(domain.InvalidDestination, match=f"^{message}:"):
        domain.check_destination(*args)


def test_the_destination_types_are_the_registry_kinds():
    from cdp.activation.destinations.registry import KINDS

    assert domain.DESTINATION_TYPES == KINDS
