"""Plans: a call classified by its shape's plan seals exactly what the full walk seals."""

from __future__ import annotations

import copy
import random

import pytest

from cdp.platform.classify import NameVerdict, Plan, ValueRules, names, shape, targets

TOKEN = "pii:v1:0123456789abcdef:" + "A" * 40
KEYS = ("email", "name", "plan", "id", "device", "address", "city", "price", "ok", "note", "library", "ip")
STRINGS = ("ada@example.com", "free", "pro", "Person 42", "", TOKEN, "4111 1111 1111 1111", "10.1.2.3", "x")
VERDICT = NameVerdict(
    personal=frozenset({"email", "name", "address"}),
    personal_qualified=frozenset({"device.id"}),
    not_personal_qualified=frozenset({"library.name"}),
    qualified_keys=frozenset({"id", "name"}),
)
RULES = ValueRules(
    {
        "email": {"pattern": r"[^@\s]+@[^@\s]+\.[a-z]+", "requires": "@", "min_length": 5},
        "card": {"pattern": r"(?:\d[ -]?){12,19}", "check": "luhn", "min_digits": 12},
        "ip": {"pattern": r"\d+\.\d+\.\d+\.\d+", "check": "ip", "requires": ".", "min_digits": 4},
    }
)


def payload(rng: random.Random, depth: int = 0) -> dict:
    out: dict = {}
    for key in rng.sample(KEYS, rng.randrange(0 if depth else 1, 6)):
        roll = rng.random()
        if roll < 0.45:
            out[key] = rng.choice(STRINGS)
        elif roll < 0.6:
            out[key] = rng.choice((4111111111111111, 12, 1.5, 10**13))
        elif roll < 0.7:
            out[key] = rng.choice((True, False, None))
        elif depth < 3:
            out[key] = payload(rng, depth + 1)
        else:
            out[key] = "leaf"
    return out


def found(fields: dict) -> tuple[list[tuple[str, str]], list[str]]:
    chosen, already = targets(fields, names(fields), VERDICT, RULES)
    return [(t.path, t.key) for t in chosen], already


@pytest.mark.parametrize("seed", range(300))
def test_a_plan_finds_what_the_walk_finds(seed):
    rng = random.Random(seed)
    fields = {top: payload(rng) for top in rng.sample(("properties", "traits", "context"), rng.randrange(1, 4))}
    call_shape = shape(fields)
    assert call_shape is not None
    plan = Plan.of(call_shape, VERDICT)
    other = copy.deepcopy(fields)  # another call of the same shape: the plan is reused
    for call in (fields, other):
        chosen, already = plan.targets(call, RULES)
        assert ([(t.path, t.key) for t in chosen], already) == found(call)
        for t in chosen:
            assert t.holder[t.slot] is not None and t.params is None


@pytest.mark.parametrize(
    "fields",
    [
        {"context": {"page": {"url": "https://x.io/?email=ada@example.com"}}},  # query parameters
        {"traits": {"emails": ["ada@example.com"]}},  # a list
        {"context": {"externalIds": [{"id": "ada@example.com", "type": "email"}]}},
    ],
)
def test_no_plan_stands_for_parameters_or_lists(fields):
    assert shape(fields) is None


def test_shapes_differ_by_kind_of_value():
    assert shape({"traits": {"email": "a"}}) != shape({"traits": {"email": 1}})
    assert shape({"traits": {"email": "a"}}) != shape({"traits": {"email": {"home": "a"}}})
    assert shape({"traits": {"email": "a"}}) == shape({"traits": {"email": "b"}})
    assert shape({"traits": {}, "properties": None}) == ()
