"""The catalog: every call type and event name each source sent, and every top-level property and
trait of them, with volume, first and last seen, and the JSON types seen.

Counted from accepted calls (what flows into the pipeline). A value the collector sealed is a token
by the time it is stored: its type is "sealed" (its type in clear is not known here, by design).

Read back, each entry says whether the source's tracking plan documents it (and the description
its JSON Schema gives) and how policy classes its name: the class is cdp.pii's own
(data.cdp.pii.classes, the rule the collector's personal-data decision is made of), and a name
the collector sealed by its value (an email under "note") is personal too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.collector.admission import json_object, traits_of
from cdp.collector.quality import tables
from cdp.collector.quality.upsert import upsert
from cdp.platform.sealed import sealed

TYPES = ("string", "number", "integer", "boolean", "object", "array", "null", "sealed")
_BIT = {name: 1 << i for i, name in enumerate(TYPES)}
_TOP = re.compile(r"[.\[?#]")
TRAIT_CALLS = ("identify", "group")

# names -> {name: class}: cdp.pii's classes of names (a decision recorded like any other)
Classify = Callable[[Sequence[str]], dict[str, str]]


def type_bit(value: Any) -> int:
    if isinstance(value, str):
        return _BIT["sealed" if sealed(value) else "string"]
    if isinstance(value, bool):
        return _BIT["boolean"]
    if isinstance(value, int):
        return _BIT["integer"]
    if isinstance(value, float):
        return _BIT["number"]
    if isinstance(value, dict):
        return _BIT["object"]
    if isinstance(value, list):
        return _BIT["array"]
    return _BIT["null"]


def type_names(bits: int) -> list[str]:
    return [name for name in TYPES if bits & _BIT[name]]


def event_key(source_id: str, event_type: str, event: str) -> str:
    return tables.key_of(source_id, event_type, event)


def sealed_names(paths: Sequence[str]) -> set[tuple[str, str]]:
    """(scope, top-level name) of each sealed path (traits.email, context.traits.email,
    properties.contact.phone, properties.url?email)."""
    out = set()
    for path in paths:
        for prefix, scope in (("properties.", "properties"), ("traits.", "traits"), ("context.traits.", "traits")):
            if path.startswith(prefix):
                out.add((scope, _TOP.split(path[len(prefix) :], 1)[0]))
    return out


class Fold:
    """A page's catalog rows, summed before they are written."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.volume: dict[tuple[str, str], int] = {}

    def add(self, accepted: pb.EventAccepted) -> None:
        event = accepted.event
        name = event.event if event.type == "track" else ""
        at = event.received_at
        key = event_key(accepted.source_id, event.type, name)
        row = self.events.get(key)
        if row is None:
            row = self.events[key] = {
                "event_key": key,
                "source_id": accepted.source_id,
                "event_type": event.type,
                "event": name,
                "volume": 0,
                "first_seen": at,
                "last_seen": at,
            }
        row["volume"] += 1
        row["first_seen"], row["last_seen"] = min(row["first_seen"], at), max(row["last_seen"], at)
        hour = (key, tables.hour_of(at))
        self.volume[hour] = self.volume.get(hour, 0) + 1
        sealed_here = sealed_names(accepted.encrypted_fields) if accepted.encrypted_fields else set()
        scope = "traits" if event.type in TRAIT_CALLS else "properties"
        values = traits_of(event) if scope == "traits" else json_object(event.properties)
        for field_name, value in values.items():
            self._field(key, scope, field_name, value, at, (scope, field_name) in sealed_here)

    def _field(self, key: str, scope: str, name: str, value: Any, at: str, was_sealed: bool) -> None:
        field_key = tables.key_of(key, scope, name)
        row = self.fields.get(field_key)
        if row is None:
            row = self.fields[field_key] = {
                "field_key": field_key,
                "event_key": key,
                "scope": scope,
                "name": name,
                "volume": 0,
                "sealed": 0,
                "types": 0,
                "first_seen": at,
                "last_seen": at,
            }
        row["volume"] += 1
        row["sealed"] += 1 if was_sealed else 0
        row["types"] |= type_bit(value)
        row["first_seen"], row["last_seen"] = min(row["first_seen"], at), max(row["last_seen"], at)

    def write(self, conn: sa.Connection) -> None:
        upsert(
            conn,
            tables.catalog_events,
            list(self.events.values()),
            add=["volume"],
            least=["first_seen"],
            greatest=["last_seen"],
        )
        upsert(
            conn,
            tables.catalog_fields,
            list(self.fields.values()),
            add=["volume", "sealed"],
            bits=["types"],
            least=["first_seen"],
            greatest=["last_seen"],
        )
        rows = [{"event_key": k, "hour": h, "count": n} for (k, h), n in self.volume.items()]
        upsert(conn, tables.volume_hours, rows, add=["count"])


def _schema_of(document: dict[str, Any], event_type: str, event: str) -> dict[str, Any] | None:
    if event_type == "track":
        schema = (document.get("events") or {}).get(event)
    else:
        schema = document.get(event_type) if event_type in TRAIT_CALLS else None
    return schema if isinstance(schema, dict) else None


def _description(schema: dict[str, Any] | None) -> str:
    text = schema.get("description", "") if schema else ""
    return text if isinstance(text, str) else ""


class CatalogQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def catalog(
        self,
        source_ids: Sequence[str] | None,
        names: dict[str, str],
        plans: dict[str, tuple[str, int, dict[str, Any]]],
        classify: Classify,
    ) -> list[qpb.CatalogEvent]:
        """The catalog of these sources (None: all); names: source id -> name; plans: source id ->
        its plan's (name, version, document)."""
        e, f = tables.catalog_events, tables.catalog_fields
        events_query = sa.select(e).order_by(e.c.source_id, e.c.event_type, e.c.event)
        fields_query = sa.select(f, e.c.source_id).join(e, e.c.event_key == f.c.event_key).order_by(f.c.name)
        if source_ids is not None:
            events_query = events_query.where(e.c.source_id.in_(source_ids))
            fields_query = fields_query.where(e.c.source_id.in_(source_ids))
        with self.engine.connect() as conn:
            events = list(conn.execute(events_query))
            fields = list(conn.execute(fields_query))
        classes = classify(sorted({r.name for r in fields}))
        out = []
        for r in events:
            plan_name, plan_version, document = plans.get(r.source_id, ("", 0, {}))
            schema = _schema_of(document, r.event_type, r.event)
            entry = qpb.CatalogEvent(
                source_id=r.source_id,
                source_name=names.get(r.source_id, ""),
                event_type=r.event_type,
                event=r.event,
                volume=r.volume,
                first_seen=r.first_seen,
                last_seen=r.last_seen,
                documented=schema is not None,
                description=_description(schema),
                plan_name=plan_name,
                plan_version=plan_version,
            )
            out.append((r.event_key, entry, schema))
        schemas = {key: schema for key, _, schema in out}
        listed: dict[str, list[qpb.CatalogField]] = {}
        for r in fields:
            schema = schemas.get(r.event_key)
            documented = (schema or {}).get("properties") or {}
            spec = documented.get(r.name) if isinstance(documented, dict) else None
            cls = classes.get(r.name, "")
            listed.setdefault(r.event_key, []).append(
                qpb.CatalogField(
                    scope=r.scope,
                    name=r.name,
                    volume=r.volume,
                    first_seen=r.first_seen,
                    last_seen=r.last_seen,
                    types=type_names(r.types),
                    documented=isinstance(spec, dict),
                    description=_description(spec if isinstance(spec, dict) else None),
                    classification=cls,
                    personal=cls.startswith(("pii.", "sensitive.")) or r.sealed > 0,
                    sensitive=cls.startswith("sensitive."),
                    sealed=r.sealed,
                )
            )
        for key, entry, _ in out:
            entry.fields.extend(listed.get(key, []))
        return [entry for _, entry, _ in out]
