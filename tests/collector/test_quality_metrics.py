"""The quality read model's series on /metrics, which anyone reaching the probe port reads: the
names callers give their events and fields are masked as the logs mask them, and callers inventing
names cannot grow the page without bound."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cdp.collector.quality import metrics
from cdp.platform.clock import format_iso

Kind = namedtuple("Kind", "source_id event_type event field rule_label total first_seen")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Violations:
    def __init__(self, kinds):
        self.kinds = kinds

    def totals(self):
        return list(reversed(self.kinds))  # in no particular order, as a table gives them


class Anomalies:
    def recent(self, now, band):
        return []


class Clock:
    def now(self):
        return NOW


def kind(event: str, field: str = "properties.total", total: int = 1, minutes_ago: float = 90, source="s-1") -> Kind:
    return Kind(source, "track", event, field, "type", total, format_iso(NOW - timedelta(minutes=minutes_ago)))


def exposition(kinds) -> str:
    registry = CollectorRegistry()
    served = metrics.QualityMetrics("collector", Violations(kinds), Anomalies(), lambda: {"s-1": "web"}, None, Clock())
    registry.register(served)
    return generate_latest(registry).decode()


def violations(text: str) -> dict[tuple, float]:
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "cdp_plan_violations"]
    return {
        (s.labels["event"], s.labels["field"], s.labels["rule"]): s.value
        for s in family.samples
        if s.name == "cdp_plan_violations_total"
    }


def test_an_email_or_phone_in_a_callers_names_is_masked_on_metrics():
    text = exposition(
        [
            kind("Invite sent to ann@example.com"),
            kind("Invite sent to bob@example.com", total=2),
            kind("Called", field="properties.+44 20 7946 0958"),
        ]
    )
    assert "example.com" not in text and "7946" not in text
    served = violations(text)
    assert served[("Invite sent to <email>", "properties.total", "type")] == 3  # masked alike: one series
    assert served[("Called", "properties.<phone>", "type")] == 1


def test_kinds_past_the_first_served_add_to_one_series_a_source_and_served_kinds_keep_theirs():
    first = [kind(f"Event {i}", minutes_ago=10_000 - i) for i in range(metrics.MAX_KINDS_SERVED)]
    later = [kind(f"Invented {i}", total=2, minutes_ago=10 - i / 1000) for i in range(700)]
    served = violations(exposition(first + later))
    assert len(served) == metrics.MAX_KINDS_SERVED + 1
    assert served[("Event 0", "properties.total", "type")] == 1
    assert served[(metrics.OTHER, metrics.OTHER, metrics.OTHER)] == 1400
    assert not any(event.startswith("Invented") for event, _, _ in served)
    # More invented kinds later: the same kinds keep their series, the rest only adds up.
    again = violations(exposition([*first, *later, *(kind(f"More {i}", minutes_ago=1) for i in range(50))]))
    assert {k: v for k, v in again.items() if k[0] != metrics.OTHER} == {
        k: v for k, v in served.items() if k[0] != metrics.OTHER
    }
    assert again[(metrics.OTHER, metrics.OTHER, metrics.OTHER)] == 1450
