"""Held mappings and lists: restored from their pages they answer as the dict or list written, now
and after any writes, in the order a dict keeps; once every page is read they are that dict; pages
that do not match what they claim are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.platform import held as held_module
from cdp.platform.held import PAIR_TEXT, TEXT, Held, HeldList, Warm, json_codec, written, written_list
from cdp.platform.snapshots import decode, encode

keys = st.text(alphabet="abcdefghij", min_size=0, max_size=3)
ops = st.lists(
    st.tuples(st.sampled_from(["get", "set", "del", "pop", "setdefault", "in", "page"]), keys, st.integers(0, 9)),
    max_size=40,
)
SETS = json_codec(sorted, set)


def roundtrip(data: dict) -> dict:
    """As a snapshot reads it back: sections as memoryviews of the row."""
    return decode(encode({"m": data}))["m"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, st.integers(0, 9), max_size=30), ops, st.sampled_from([1, 2, 256]))
def test_a_held_mapping_answers_as_the_dict_it_was_written_from(start, operations, page):
    mapping = {k: {v} for k, v in start.items()}
    back: Held = Held(roundtrip(written(mapping, SETS, page=page)), SETS)
    live = {k: set(v) for k, v in mapping.items()}
    for op, key, value in operations:
        if op == "get":
            assert back.get(key) == live.get(key)
        elif op == "set":
            back[key] = {value}
            live[key] = {value}
        elif op == "del" and key in live:
            del back[key]
            del live[key]
        elif op == "pop":
            assert back.pop(key, None) == live.pop(key, None)
        elif op == "setdefault":  # a value changed in place stays changed
            back.setdefault(key, set()).add(value)
            live.setdefault(key, set()).add(value)
        elif op == "in":
            assert (key in back) == (key in live)
        else:
            back.read_some(1)
        assert len(back) == len(live)
    assert list(back.items()) == list(live.items())  # every page read: a fold's order
    assert back.complete and back == live


def test_a_held_mapping_of_pairs_and_keys_of_no_kind():
    back = Held(roundtrip(written({("user_id", "u1"): "p1", ("anonymous_id", "a1"): "p2"}, PAIR_TEXT)), PAIR_TEXT)
    assert back.get(("user_id", "u1")) == "p1"
    assert back.get(None) is None and 7 not in back  # no page holds them
    assert dict(back) == {("user_id", "u1"): "p1", ("anonymous_id", "a1"): "p2"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(), max_size=40), st.lists(st.integers(), max_size=5), st.sampled_from([1, 3, 256]))
def test_a_held_list_answers_as_the_list_it_was_written_from(items, appended, page):
    back = HeldList(roundtrip(written_list(items, lambda i: str(i).encode(), page=page)), int)
    live = list(items)
    for item in appended:
        back.append(item)
        live.append(item)
    assert len(back) == len(live)
    assert [back[i] for i in range(len(live))] == live
    assert back[1:3] == live[1:3] and (not live or back[-1] == live[-1])
    assert back.plain() == live


def test_warm_puts_plain_dicts_and_lists_back_where_the_state_keeps_them():
    class State:
        pass

    state = State()
    warm = Warm()
    warm.hold(state, "m", Held(roundtrip(written({str(i): str(i) for i in range(600)}, TEXT)), TEXT))
    warm.hold(state, "l", HeldList(roundtrip(written_list(list(range(600)), lambda i: str(i).encode())), int))
    assert isinstance(state.m, Held)
    assert not warm.read_some(2)
    warm.read_all()
    assert type(state.m) is dict and state.m == {str(i): str(i) for i in range(600)}
    assert type(state.l) is list and state.l == list(range(600))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(pages=bytes(d["pages"])[:-1]),
        lambda d: d.update(count=d["count"] + 1),
        lambda d: d.update(firsts=np.frombuffer(d["firsts"], dtype=held_module.HASH)[::-1].tobytes()),
        lambda d: d.update(extra=1),
    ],
)
def test_pages_that_do_not_match_are_refused(damage):
    data = dict(roundtrip(written({str(i): str(i) for i in range(600)}, TEXT)))
    damage(data)
    with pytest.raises((ValueError, held_module.zlib.error)):
        Held(data, TEXT).plain()
