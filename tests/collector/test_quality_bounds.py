"""What callers' names can do to the quality read model. Its series on /metrics, which anyone
reaching the probe port reads, count by source and rule keyword, never by the names callers give
their events and fields (which may hold personal data); and a source has a bounded number of
kinds, since a client's write key is public and a caller may invent any number of names."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.collector.quality import bounds, catalog, metrics, tables, violations
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


# The kinds a source may have ----------------------------------------------------------------------


def found(source_id: str, field: str, at_minute: int = 0) -> violations.Found:
    call = event_pb2.Event(type="track", event="Order Completed", properties="{}")
    at = format_iso(NOW + timedelta(minutes=at_minute))
    rule = f"{field}: is not allowed (additionalProperties)"
    return violations.Found(
        source_id, "track", "Order Completed", field, rule, "accepted", "web", 1, at, "e-1", call, ()
    )


def stored_kinds(engine) -> dict[tuple[str, str], int]:
    k = tables.violation_kinds
    with engine.connect() as conn:
        return {(r.source_id, r.field): r.total for r in conn.execute(sa.select(k.c.source_id, k.c.field, k.c.total))}


def test_a_source_inventing_names_adds_to_one_kind_past_its_bound_and_its_known_kinds_go_on(tmp_path, monkeypatch):
    monkeypatch.setattr(violations, "MAX_KINDS_A_SOURCE", 5)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'quality.sqlite'}")
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        violations.write(conn, [found("s-web", f"properties.p{i}") for i in range(3)])
    with engine.begin() as conn:  # a page of invented names, and a known one again
        violations.write(
            conn, [found("s-web", f"properties.q{i}", 1) for i in range(40)] + [found("s-web", "properties.p0")]
        )
    with engine.begin() as conn:  # another source has bounds of its own
        violations.write(conn, [found("s-app", "properties.p0")])
    kinds = stored_kinds(engine)
    assert len([k for k in kinds if k[0] == "s-web"]) == 6  # five kinds and the one past them
    assert kinds[("s-web", "properties.p0")] == 2
    assert kinds[("s-web", violations.OTHER)] == 38
    assert kinds[("s-app", "properties.p0")] == 1
    with engine.begin() as conn:
        violations.write(conn, [found("s-web", f"properties.r{i}", 2) for i in range(10)])
    assert stored_kinds(engine)[("s-web", violations.OTHER)] == 48
    queries = ViolationQueries(engine)
    listed = queries.kinds(NOW - timedelta(hours=1), NOW + timedelta(hours=1), ["s-web"], 1)
    assert len(listed) == 6


def test_tables_made_before_their_indexes_by_source_get_them(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'quality.sqlite'}")
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        for index in tables.ADDED_INDEXES:
            conn.execute(sa.text(f"DROP INDEX {index.name}"))
    tables.upgrade(engine)
    tables.upgrade(engine)  # again: there already
    with engine.connect() as conn:
        assert len(tables.ADDED_INDEXES) == 2
        for index in tables.ADDED_INDEXES:
            assert index.name in {i["name"] for i in sa.inspect(conn).get_indexes(index.table.name)}


def accepted(source_id: str, event: str, properties: dict, minute: int = 0) -> collector_pb2.EventAccepted:
    call = event_pb2.Event(
        type="track",
        event=event,
        properties=json.dumps(properties),
        received_at=format_iso(NOW + timedelta(minutes=minute)),
    )
    return collector_pb2.EventAccepted(event_id=str(uuid.uuid4()), source_id=source_id, event=call)


def fold(engine, calls) -> None:
    page = catalog.Fold()
    for call in calls:
        page.add(call)
    with engine.begin() as conn:
        page.write(conn)


def test_the_catalog_holds_a_bounded_number_of_a_sources_events_and_of_an_events_properties(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_EVENTS_A_SOURCE", 3)
    monkeypatch.setattr(catalog, "MAX_FIELDS_AN_EVENT", 4)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'quality.sqlite'}")
    tables.metadata.create_all(engine)
    fold(engine, [accepted("s-web", "Order Completed", {"total": 1, "currency": "EUR"})])
    invented = [accepted("s-web", f"Invite for ann{i}@example.com", {f"p{i}": 1}, 1) for i in range(20)]
    fold(engine, [*invented, accepted("s-web", "Order Completed", {f"q{i}": i for i in range(30)}, 2)])
    fold(engine, [accepted("s-app", "Opened", {"screen": "home"})])
    e, f = tables.catalog_events, tables.catalog_fields
    with engine.connect() as conn:
        events = {
            (r.source_id, r.event): r.volume for r in conn.execute(sa.select(e.c.source_id, e.c.event, e.c.volume))
        }
        fields = [
            (r.event, r.name, r.volume)
            for r in conn.execute(sa.select(e.c.event, f.c.name, f.c.volume).join(f, f.c.event_key == e.c.event_key))
        ]
    web = {name: volume for (source, name), volume in events.items() if source == "s-web"}
    assert len(web) == 4 and web["Order Completed"] == 2 and web[bounds.OTHER] == 18  # 2 invented ones had room
    assert events[("s-app", "Opened")] == 1
    of_order = {name: volume for event, name, volume in fields if event == "Order Completed"}
    assert set(of_order) == {"total", "currency", "q0", "q1", bounds.OTHER} and of_order[bounds.OTHER] == 28
    of_other = [name for event, name, _ in fields if event == bounds.OTHER]
    assert len(of_other) <= 5 and bounds.OTHER in of_other
