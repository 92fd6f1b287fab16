"""The quality read model's tables, and the keys and hours its rows are filed under.

Times are RFC 3339 UTC text as the collector writes them (cdp.platform.clock.format_iso), so they
compare as text; an hour is filed under its start ("2026-12-01T20:00:00Z"). Rows are keyed by a
hash of what names them (source, call type, event name...), which keeps keys short whatever a
client calls its events.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cdp.platform.clock import format_iso, parse_iso

metadata = sa.MetaData()


def key_of(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def name_of(call) -> str:
    """What a call is listed under beside its type: a track's event, a page's or screen's name."""
    if call.type == "track":
        return str(call.event)
    return str(call.name) if call.type in ("page", "screen") else ""


def hour_of(at: str) -> str:
    """The start of the hour a time falls in, as text."""
    if len(at) >= 20 and at[10] == "T" and at.endswith("Z"):  # the collector's own format: no parsing
        return at[:13] + ":00:00Z"
    return hour_text(parse_iso(at))


def hour_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def hour_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(since: datetime, until: datetime) -> list[str]:
    """The hours from since's to the one before until (until's own if until is not on the hour)."""
    out, at = [], hour_start(since)
    while at < until:
        out.append(hour_text(at))
        at += timedelta(hours=1)
    return out


def iso(at: datetime) -> str:
    return format_iso(at)


# Violations: one row a kind (source, call, field, rule), its counts per hour, a few examples.
violation_kinds = sa.Table(
    "quality_violation_kinds",
    metadata,
    sa.Column("kind_id", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(20), nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("rule_label", sa.String(40), nullable=False),  # the rule's keyword, for metrics
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
)
# A source's kinds, counted at each page (cdp.collector.quality.bounds).
KINDS_BY_SOURCE = sa.Index("quality_violation_kinds_by_source", violation_kinds.c.source_id)
violation_hours = sa.Table(
    "quality_violation_hours",
    metadata,
    sa.Column("kind_id", sa.String(32), primary_key=True),
    sa.Column("hour", sa.String(20), primary_key=True),
    sa.Column("outcome", sa.String(12), primary_key=True),
    sa.Column("plan_name", sa.String(200), primary_key=True),
    sa.Column("plan_version", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("quality_violations_by_hour", "hour"),
)
violation_examples = sa.Table(
    "quality_violation_examples",
    metadata,
    sa.Column("kind_id", sa.String(32), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("value", sa.Text, nullable=False),  # masked
    sa.Column("fields", sa.Text, nullable=False),  # masked
)

# Catalog: every (source, call type, event name) seen, and every top-level property and trait.
catalog_events = sa.Table(
    "quality_catalog_events",
    metadata,
    sa.Column("event_key", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(20), nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("volume", sa.BigInteger, nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
)
# A source's events, counted at each page (cdp.collector.quality.bounds).
EVENTS_BY_SOURCE = sa.Index("quality_catalog_events_by_source", catalog_events.c.source_id)
catalog_fields = sa.Table(
    "quality_catalog_fields",
    metadata,
    sa.Column("field_key", sa.String(32), primary_key=True),
    sa.Column("event_key", sa.String(32), nullable=False, index=True),
    sa.Column("scope", sa.String(12), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("volume", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.BigInteger, nullable=False),
    sa.Column("types", sa.Integer, nullable=False),  # bits of catalog.TYPES
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
)

# Volume: accepted calls per event and hour (the anomalies' baseline).
volume_hours = sa.Table(
    "quality_volume_hours",
    metadata,
    sa.Column("event_key", sa.String(32), primary_key=True),
    sa.Column("hour", sa.String(20), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("quality_volume_by_hour", "hour"),
)

# Anomalies, as recorded in the collector's log (VolumeAnomalyDetected).
anomalies = sa.Table(
    "quality_anomalies",
    metadata,
    sa.Column("anomaly_id", sa.String(36), primary_key=True),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("hour", sa.String(20), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # serialised VolumeAnomalyDetected
)


# Indexes added since their tables were first made.
ADDED_INDEXES = (KINDS_BY_SOURCE, EVENTS_BY_SOURCE)


def upgrade(engine: sa.Engine) -> None:
    """Tables made before an index of ADDED_INDEXES get it (each collector process asks at start;
    of two adding one at once, the loser finds it there)."""
    for index in ADDED_INDEXES:
        try:
            with engine.begin() as conn:
                index.create(conn, checkfirst=True)
        except sa.exc.DBAPIError:
            assert index.table is not None
            with engine.connect() as conn:
                if index.name not in {i["name"] for i in sa.inspect(conn).get_indexes(index.table.name)}:
                    raise
