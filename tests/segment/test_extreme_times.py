"""Times at the edges of what there is: a duration too long to add to now is refused when the
audience is defined, and a trait saying year 1 or 9999 is evaluated like any other (not an error
that would park the person's every change)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cdp.segment import engine, language
from cdp.segment.leaves import InvalidAudience

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["P99999999999D", "P36526D", "PT3155760001S", "P5218W"])
def test_a_duration_past_a_hundred_years_is_refused_naming_the_field(text):
    with pytest.raises(InvalidAudience, match=r"definition\.window\.last: must be at most 36525 days"):
        language.parse({"event": "X", "window": {"last": text}}, "definition")


@pytest.mark.parametrize("op", ["before", "after", "within_last", "within_next"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_trait_at_the_ends_of_time_is_compared_without_error(op, value):
    node = language.parse({"trait": "renewal", "op": op, "value": "P36525D"}, "definition")
    person = engine.Person({"renewal": value}, {}, lambda predicate: engine.EMPTY, lambda audience: False)
    holds, edge = engine.evaluate(node, person, NOW)
    assert isinstance(holds, bool) and (edge is None or edge > NOW)
