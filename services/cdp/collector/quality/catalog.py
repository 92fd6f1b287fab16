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
from cdp.collector.quality import bounds, tables
from cdp.collector.quality.upsert import upsert
from cdp.platform.sealed import sealed

TYPES = ("string", "number", "integer", "boolean", "object", "array", "null", "sealed")
_BIT = {name: 1 << i for i, name in enumerate(TYPES)}
_TOP = re.compile(r"[.\[?#]")
TRAIT_CALLS = ("identify", "group")

# Names a source's callers may add (cdp.collector.quality.bounds): past these, under OTHER.
MAX_EVENTS_A_SOURCE = 10_000  # (call type, event name) entries
MAX_FIELDS_AN_EVENT = 2_000  # properties or traits of one entry

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
    """A page's catalog rows, summed in memory under plain tuples before they are written (the
    rows' hashed keys are made once per distinct entry of the page, not once per call)."""

    def __init__(self) -> None:
        # (source id, call type, event name) -> [volume, first seen, last seen]
        self.events: dict[tuple[str, str, str], list[Any]] = {}
        # (that, scope, name) -> [volume, sealed, type bits, first seen, last seen]
        self.fields: dict[tuple[tuple[str, str, str], str, str], list[Any]] = {}
        self.volume: dict[tuple[tuple[str, str, str], str], int] = {}

    def add(self, accepted: pb.EventAccepted) -> None:
        event = accepted.event
        key = (accepted.source_id, event.type, tables.name_of(event))
        at = event.received_at
        row = self.events.get(key)
        if row is None:
            self.events[key] = [1, at, at]
        else:
            row[0] += 1
            if at < row[1]:
                row[1] = at
            elif at > row[2]:
                row[2] = at
        hour = (key, tables.hour_of(at))
        self.volume[hour] = self.volume.get(hour, 0) + 1
        sealed_here = sealed_names(accepted.encrypted_fields) if accepted.encrypted_fields else ()
        scope = "traits" if event.type in TRAIT_CALLS else "properties"
        values = traits_of(event) if scope == "traits" else json_object(event.properties)
        fields = self.fields
        for name, value in values.items():
            bit = type_bit(value)
            was_sealed = 1 if sealed_here and (scope, name) in sealed_here else 0
            found = fields.get((key, scope, name))
            if found is None:
                fields[key, scope, name] = [1, was_sealed, bit, at, at]
                continue
            found[0] += 1
            found[1] += was_sealed
            found[2] |= bit
            if at < found[3]:
                found[3] = at
            elif at > found[4]:
                found[4] = at

    def _bounded(self, conn: sa.Connection) -> None:
        """Names past their limit, folded under OTHER: an event's into its source's OTHER entry
        (with its fields and volume), a field's into its event's OTHER field."""
        e, f = tables.catalog_events, tables.catalog_fields
        by_source: dict[str, dict[str, tuple[str, str, str]]] = {}
        for key in self.events:
            if key[2] != bounds.OTHER:
                by_source.setdefault(key[0], {})[event_key(*key)] = key
        moved: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for source_id, keys in by_source.items():
            for past in bounds.past_limit(
                conn, e.c.source_id == source_id, e.c.event_key, list(keys), MAX_EVENTS_A_SOURCE
            ):
                key = keys[past]
                moved[key] = (key[0], key[1], bounds.OTHER)
        if moved:
            self.events = _merged(self.events, lambda k: moved.get(k, k), _merge_event)
            self.fields = _merged(self.fields, lambda k: (moved.get(k[0], k[0]), k[1], k[2]), _merge_field)
            self.volume = _merged(self.volume, lambda k: (moved.get(k[0], k[0]), k[1]), lambda a, b: a + b)
        by_event: dict[tuple[str, str, str], dict[str, tuple[Any, str, str]]] = {}
        for field in self.fields:
            if field[2] != bounds.OTHER:
                by_event.setdefault(field[0], {})[tables.key_of(event_key(*field[0]), field[1], field[2])] = field
        renamed: dict[Any, Any] = {}
        for key, fields in by_event.items():
            group = f.c.event_key == event_key(*key)
            for past in bounds.past_limit(conn, group, f.c.field_key, list(fields), MAX_FIELDS_AN_EVENT):
                field = fields[past]
                renamed[field] = (field[0], field[1], bounds.OTHER)
        if renamed:
            self.fields = _merged(self.fields, lambda k: renamed.get(k, k), _merge_field)

    def write(self, conn: sa.Connection) -> None:
        self._bounded(conn)
        keys = {key: event_key(*key) for key in self.events}
        events = [
            {
                "event_key": keys[k],
                "source_id": k[0],
                "event_type": k[1],
                "event": k[2],
                "volume": v,
                "first_seen": first,
                "last_seen": last,
            }
            for k, (v, first, last) in self.events.items()
        ]
        upsert(conn, tables.catalog_events, events, add=["volume"], least=["first_seen"], greatest=["last_seen"])
        fields = [
            {
                "field_key": tables.key_of(keys[k], scope, name),
                "event_key": keys[k],
                "scope": scope,
                "name": name,
                "volume": v,
                "sealed": n,
                "types": bits,
                "first_seen": first,
                "last_seen": last,
            }
            for (k, scope, name), (v, n, bits, first, last) in self.fields.items()
        ]
        upsert(
            conn,
            tables.catalog_fields,
            fields,
            add=["volume", "sealed"],
            bits=["types"],
            least=["first_seen"],
            greatest=["last_seen"],
        )
        rows = [{"event_key": keys[k], "hour": h, "count": n} for (k, h), n in self.volume.items()]
        upsert(conn, tables.volume_hours, rows, add=["count"])


def _merged(rows: dict[Any, Any], key_of: Callable[[Any], Any], merge: Callable[[Any, Any], Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, row in rows.items():
        to = key_of(key)
        out[to] = row if to not in out else merge(out[to], row)
    return out


def _merge_event(a: list[Any], b: list[Any]) -> list[Any]:  # [volume, first, last]
    return [a[0] + b[0], min(a[1], b[1]), max(a[2], b[2])]


def _merge_field(a: list[Any], b: list[Any]) -> list[Any]:  # [volume, sealed, type bits, first, last]
    return [a[0] + b[0], a[1] + b[1], a[2] | b[2], min(a[3], b[3]), max(a[4], b[4])]


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
