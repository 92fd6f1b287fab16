"""Segment's JSON: ids keep their exact value whatever JSON type they came in."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.collector.segment_json import MalformedCall, loads, to_event

BIG = "18446744073709551617"  # 2**64 + 1: past what orjson reads as an integer


def user_id_of(text: str) -> str:
    return to_event(loads(text.encode()), default_type="track").user_id


@pytest.mark.parametrize(
    "literal, expected",
    [
        (BIG, BIG),
        ("-" + BIG, "-" + BIG),
        ("18446744073709551615", "18446744073709551615"),  # 2**64 - 1: orjson's own integer
        ("42", "42"),
        ("-0", "0"),
        ("1.50", "1.50"),
        ("1e3", "1000"),
        ("1.5E-3", "0.0015"),
        ("123456789012345678901234567890.5", "123456789012345678901234567890.5"),
    ],
)
def test_a_number_id_becomes_its_exact_decimal_string(literal, expected):
    assert user_id_of(f'{{"userId": {literal}, "event": "E"}}') == expected


def test_two_users_that_differ_past_a_float_stay_two():
    assert user_id_of(f'{{"userId": {BIG}}}') != user_id_of('{"userId": 18446744073709551616}')


def test_every_id_of_every_call_in_a_batch_is_exact():
    body = (
        f'{{"batch": [{{"userId": "s", "anonymousId": {BIG}}}, {{"groupId": {BIG}1, "previousId": 7, "userId": 1.0}}]}}'
    )
    calls = loads(body.encode())["batch"]
    first, second = (to_event(c, default_type="group") for c in calls)
    assert (first.user_id, first.anonymous_id) == ("s", BIG)
    assert (second.group_id, second.previous_id, second.user_id) == (BIG + "1", "7", "1.0")


def test_other_numbers_read_as_orjson_reads_them_whichever_path_is_taken():
    rest = f'"properties": {{"n": {BIG}, "f": 1.10, "i": -9223372036854775808, "deep": [[{{"x": 1e-400}}]]}}'
    fast = orjson.loads(f'{{"userId": "u", {rest}}}')
    exact = loads(f'{{"userId": {BIG}, {rest}}}'.encode())
    assert exact["properties"] == fast["properties"]
    assert [type(v) for v in exact["properties"].values()] == [type(v) for v in fast["properties"].values()]


@pytest.mark.parametrize(
    "body",
    [
        f'{{"userId": {BIG}, "properties": {{"x": NaN}}}}',
        f'{{"userId": {BIG}, "properties": {{"x": 1e400}}}}',
        f'{{"userId": {BIG}, "properties": {{"x": "\\ud800"}}}}',
        f'{{"userId": {BIG}, "properties": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"userId": 1, "properties": {"x": Infinity}}',
        f'{{"userId": {BIG}, "extra": ' + "[" * 1000 + "]" * 1000 + "}",  # orjson reads it; the exact parser cannot
    ],
)
def test_what_orjson_refuses_stays_refused(body):
    with pytest.raises(ValueError):
        loads(body.encode())


@pytest.mark.parametrize(
    "value, rule",
    [
        ("true", "must be a string or a number"),
        ("{}", "must be a string or a number"),
        ("[1]", "must be a string or a number"),
        ("1e999999999", "is longer than 512 characters"),
    ],
)
def test_an_id_that_is_no_string_or_number_is_refused(value, rule):
    with pytest.raises(MalformedCall) as raised:
        to_event(loads(f'{{"userId": {value}, "anonymousId": {BIG}}}'.encode()))
    assert (raised.value.field, raised.value.rule) == ("userId", rule)


documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(document=documents, user_id=st.integers(2**64, 2**80))
def test_the_exact_path_reads_everything_but_ids_as_the_fast_one(document, user_id):
    try:
        text = json.dumps({"extra": document, "userId": "placeholder"}, allow_nan=False)
    except ValueError:
        return
    try:
        expected = orjson.loads(text)["extra"]
    except orjson.JSONDecodeError:  # an infinite float: refused on both paths
        with pytest.raises(ValueError):
            loads(text.replace('"placeholder"', str(user_id)).encode())
        return
    exact = loads(text.replace('"placeholder"', str(user_id)).encode())
    assert exact["extra"] == expected
    assert to_event(exact).user_id == str(user_id)


def test_a_value_orjson_cannot_write_is_refused_by_what_it_is():
    """A call read by another parser (Python's json, as `cdp send` reads a file) may hold an integer
    past 64 bits; one nested past what orjson writes is too deep. Each says which."""
    call = {"type": "track", "event": "e", "userId": "u"}
    with pytest.raises(MalformedCall, match=r"properties: holds a value that cannot be stored as JSON: Integer"):
        to_event({**call, "properties": json.loads('{"x": ' + str(2**70) + "}")})
    deep: dict = {}
    for _ in range(300):
        deep = {"a": deep}
    with pytest.raises(MalformedCall, match="properties: nests deeper than 32 levels"):
        to_event({**call, "properties": deep})
