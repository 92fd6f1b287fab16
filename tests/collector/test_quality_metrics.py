"""The quality read model's series on /metrics, which anyone reaching the probe port reads: they
count by source and rule keyword, never by the names callers give their events and fields (which
may hold personal data, and of which a caller may invent any number)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cdp.collector.quality import metrics, tables
from cdp.collector.quality.violations import ViolationQueries
from cdp.platform.clock import format_iso

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Anomalies:
    def recent(self, now, band):
        return []


class Clock:
    def now(self):
        return NOW


def kind(source_id: str, event: str, field: str, rule: str, total: int, minutes_ago: float) -> dict:
    at = format_iso(NOW - timedelta(minutes=minutes_ago))
    return {
        "kind_id": uuid.uuid4().hex,
        "source_id": source_id,
        "event_type": "track",
        "event": event,
        "field": field,
        "rule": f"{field}: broke {rule}",
        "rule_label": rule,
        "total": total,
        "first_seen": at,
        "last_seen": at,
    }


def exposition(tmp_path, kinds) -> str:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'quality.sqlite'}")
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(tables.violation_kinds.insert(), kinds)
    registry = CollectorRegistry()
    names = {"s-web": "web", "s-app": "app"}
    registry.register(
        metrics.QualityMetrics("collector", ViolationQueries(engine), Anomalies(), lambda: names, None, Clock())
    )
    return generate_latest(registry).decode()


def samples(text: str, family: str) -> dict[tuple, float]:
    [found] = [f for f in text_string_to_metric_families(text) if f.name == family]
    return {tuple(sorted(s.labels.items())): s.value for s in found.samples if not s.name.endswith("_created")}


def test_violations_count_by_source_and_rule_and_never_name_a_callers_event_or_field(tmp_path):
    invented = [
        kind("s-web", f"Invite for ann{i}@example.com", f"properties.p{i}", "type", 2, 300) for i in range(3000)
    ]
    kinds = [
        *invented,
        kind("s-web", "Order Completed", "properties.total", "required", 5, 30),
        kind("s-app", "Called +44 20 7946 0958", "properties.tel:4155550123", "type", 1, 10),
    ]
    text = exposition(tmp_path, kinds)
    assert "example.com" not in text and "7946" not in text and "4155550123" not in text and "Invite" not in text
    counted = samples(text, "cdp_plan_violations")
    assert counted == {
        (("rule", "type"), ("service", "collector"), ("source", "web")): 6000,
        (("rule", "required"), ("service", "collector"), ("source", "web")): 5,
        (("rule", "type"), ("service", "collector"), ("source", "app")): 1,
    }
    # New kinds (first seen in the last hour) by source: the two recent ones, not the 3000 older.
    assert samples(text, "cdp_violation_kinds_new") == {
        (("service", "collector"), ("source", "app")): 1,
        (("service", "collector"), ("source", "web")): 1,
    }
    assert metrics.SERIES["cdp_plan_violations_total"] == {"service", "source", "rule"}
