"""Derived ids are uuid5 under the platform's namespace: stores written before keep their ids."""

from __future__ import annotations

import copy
import pickle
import random
import uuid

import pytest

from cdp.platform.ids import NAMESPACE, derived_id


def test_a_derived_id_is_the_one_it_always_was():
    assert str(derived_id("event", "source-1", "message-1")) == "420ad409-eff1-5892-9ed9-0be27c5f9afe"


def test_derived_ids_are_uuid5_of_the_parts_joined():
    rng = random.Random(7)
    pieces = ["", "é✓ 漢字", "\x00", "x" * 300, *(str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5))]
    for _ in range(5000):
        parts = tuple(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
        made, expected = derived_id(*parts), uuid.uuid5(NAMESPACE, "\x1f".join(parts))
        assert made == expected and str(made) == str(expected) and hash(made) == hash(expected)
        assert made.version == 5 and made.variant == uuid.RFC_4122
    made = derived_id("delivery", "sync", "person")
    assert pickle.loads(pickle.dumps(made)) == made == copy.deepcopy(made)
    assert uuid.UUID(str(made)) == made and {made: 1}[uuid.UUID(bytes=made.bytes)] == 1


def test_a_part_that_is_not_text_is_refused_as_uuid5_refuses_it():
    with pytest.raises(UnicodeEncodeError):
        derived_id("event", "\ud800")
