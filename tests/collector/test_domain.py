"""Collector rules: every rule names the field it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.api.common.v1 import event_pb2
from cdp.collector import domain
from cdp.platform.clock import format_iso


def call(**fields) -> event_pb2.Event:
    base = {"type": "track", "message_id": "m1", "anonymous_id": "a1", "event": "Signed Up"}
    base.update(fields)
    return event_pb2.Event(**base)


def check(event):
    return domain.validate(event, event.ByteSize())


def test_a_good_call_of_each_type_passes():
    for kind, extra in [
        ("identify", {}),
        ("track", {}),
        ("page", {}),
        ("screen", {}),
        ("group", {"group_id": "g"}),
        ("alias", {"previous_id": "old", "user_id": "new"}),
    ]:
        assert check(call(type=kind, **extra)) is None, kind


@pytest.mark.parametrize(
    "fields, field, rule",
    [
        ({"type": "click"}, "type", "must be one of"),
        ({"message_id": ""}, "messageId", "is required"),
        ({"anonymous_id": ""}, "userId", "userId or anonymousId is required"),
        ({"event": "  "}, "event", "is required for track"),
        ({"type": "group"}, "groupId", "is required for group"),
        ({"type": "alias", "user_id": "u"}, "previousId", "is required for alias"),
        ({"type": "alias", "previous_id": "p"}, "userId", "is required for alias"),
        ({"properties": "[1, 2]"}, "properties", "must be a JSON object"),
        ({"traits": "{not json"}, "traits", "must be a JSON object"),
        ({"context": '"text"'}, "context", "must be a JSON object"),
        ({"timestamp": "yesterday"}, "timestamp", "must be an ISO 8601"),
        ({"sent_at": "2024-13-45"}, "sentAt", "must be an ISO 8601"),
        ({"user_id": "u" * 600}, "userId", "longer than"),
    ],
)
def test_each_rule_names_its_field(fields, field, rule):
    rejection = check(call(**fields))
    assert rejection is not None
    assert rejection.field == field
    assert rule in rejection.rule


def test_an_event_over_32_kb_is_rejected():
    big = call(properties='{"x": "' + "y" * (33 * 1024) + '"}')
    rejection = check(big)
    assert rejection.field == "event" and "32 KB" in rejection.rule


@pytest.mark.parametrize(
    "fields, field, rule",
    [
        ({"type": "identify", "context": '{"traits": "pro"}'}, "context.traits", "must be a JSON object"),
        ({"type": "identify", "context": '{"traits": ["pro"]}'}, "context.traits", "must be a JSON object"),
        ({"timestamp": "9999-12-31T23:59:59-10:00"}, "timestamp", "must lie within years 1900..2999 (UTC)"),
        ({"original_timestamp": "0001-01-01T00:00:00+10:00"}, "originalTimestamp", "years 1900..2999"),
        ({"sent_at": "1900-01-01T00:30:00+01:00"}, "sentAt", "years 1900..2999"),  # 1899 in UTC
        ({"timestamp": "3000-01-01T00:00:00Z"}, "timestamp", "years 1900..2999"),
        ({"user_id": "u\x001"}, "userId", "must not contain control characters"),
        ({"anonymous_id": "a\n"}, "anonymousId", "must not contain control characters"),
        # Names are read on operators' screens: no terminal escapes, no NUL, bounded.
        ({"type": "track", "event": "Signed up\x1b]0;pwned\x07"}, "event", "must not contain control characters"),
        ({"type": "track", "event": "Signed\x00up"}, "event", "must not contain control characters"),
        ({"type": "track", "event": "E" * 513}, "event", "is longer than 512 characters"),
        ({"type": "page", "name": "Home\n"}, "name", "must not contain control characters"),
        ({"type": "screen", "name": "S" * 30_000}, "name", "is longer than 512 characters"),
    ],
)
def test_what_a_follower_could_not_process_is_refused_by_field(fields, field, rule):
    rejection = check(call(**fields))
    assert rejection is not None
    assert rejection.field == field
    assert rule in rejection.rule


def test_the_ends_of_the_time_range_pass():
    for text in ("1900-01-01T00:00:00Z", "2999-12-31T23:59:59.999Z", "1900-01-01T10:00:00+10:00", "2024-05-01"):
        assert check(call(timestamp=text, sent_at=text, original_timestamp=text)) is None, text
    assert check(call(context='{"traits": null}')) is None


def test_the_corrected_timestamp_must_lie_in_the_range_too():
    received = datetime(2026, 1, 1, tzinfo=UTC)
    # Each time is sane, but the clock correction puts the call a thousand years back.
    skewed = call(original_timestamp="1900-01-01T00:00:00Z", sent_at="2999-01-01T00:00:00Z")
    assert domain.validate(skewed, skewed.ByteSize()) is None, "without a received time there is nothing to correct"
    rejection = domain.validate(skewed, skewed.ByteSize(), received)
    assert rejection.field == "originalTimestamp"
    assert "corrected by sentAt" in rejection.rule and "years 1900..2999" in rejection.rule
    fine = call(original_timestamp="2026-01-01T00:00:00Z", sent_at="2026-01-01T00:00:05Z")
    assert domain.validate(fine, fine.ByteSize(), received) is None
    assert domain.corrected_timestamp(fine, received) == "2025-12-31T23:59:55.000Z"
    # A timestamp sent is the timestamp: nothing is corrected.
    given = call(timestamp="2026-01-01T00:00:00Z", original_timestamp="1900-01-01T00:00:00Z", sent_at="2999-01-01Z")
    assert domain.validate(given, given.ByteSize(), received) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["email", "traits", "x"]), children, max_size=3)
    ),
    max_leaves=8,
)
times = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=10)), timezone(timedelta(hours=-10))])).map(
        datetime.isoformat
    ),
    st.datetimes().map(datetime.isoformat),
    st.sampled_from(["", "9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00", "2024-05-01T12:00:00Z"]),
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["identify", "track", "group", "alias"]),
    user_id=st.text(max_size=6),
    fields=st.fixed_dictionaries(
        {},
        optional={
            "traits": json_values.map(orjson.dumps),
            "context": json_values.map(orjson.dumps) | json_values.map(lambda v: orjson.dumps({"traits": v})),
            "properties": json_values.map(orjson.dumps),
            "timestamp": times,
            "sent_at": times,
            "original_timestamp": times,
        },
    ),
)
def test_whatever_is_accepted_every_follower_can_process(kind, user_id, fields):
    """Each follower's reading of a call (profile's traits and times, identity's identifiers) works on
    every call that passes: a call they could not process would stall them for ever."""
    from cdp.platform.identifiers import call_identifiers
    from cdp.profile.application import _utc, person_traits

    event = call(
        type=kind,
        user_id=user_id,
        group_id="g",
        previous_id="p",
        **{k: v if isinstance(v, str) else v.decode() for k, v in fields.items()},
    )
    received = datetime.now(UTC)
    if domain.validate(event, event.ByteSize(), received) is not None:
        return
    event.received_at = format_iso(received)
    if not event.timestamp:
        event.timestamp = domain.corrected_timestamp(event, received)
    assert len(_utc(event.timestamp)) == len("2024-05-01T12:00:00.000Z")
    person_traits(event)
    call_identifiers(event, lambda event_type, name, value: value)
