"""Activation rules: destinations, payloads, backoff."""

from __future__ import annotations

import itertools

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


def test_backoff_grows_and_is_capped():
    delays = [domain.backoff(n) for n in range(1, 12)]
    assert delays[0] == domain.FIRST_BACKOFF_S
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == domain.MAX_BACKOFF_S


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
