"""The warehouse's tables in PostgreSQL (one schema), as SQLAlchemy Core.

events             one row per accepted call: event_id, source_id, type, event (a track's name),
                   name (a page's or screen's), person_id (when identity knows it), user_id and
                   anonymous_id (in clear, or masked as "mask:<keyed hash>" where policy
                   withholds them), timestamp, received_at, properties, traits and context
                   (jsonb; sealed values policy allows stay tokens, withheld ones are null),
                   plan_name, plan_version, violations (jsonb), withheld (the fields left out or
                   masked), decision_id (the cdp.egress decision), position (in collector's log)
profiles           person_id, traits (jsonb: name -> value, as in profile_traits), first_seen,
                   last_seen, cause_event_id, changed_at, decision_id
profile_traits     person_id, name, value (jsonb; null when withheld or erased), withheld,
                   erased, source_id, source_event_id, updated_at: provenance of each trait
persons            person_id, merged_into (the survivor, once merged), forgotten
identifiers        type, value (as events hold ids), person_id: whose identifier it is now
identity_links     edge_id, a_type, a_value, b_type, b_value, rule, rule_version, score,
                   event_id, decision_id, state (active, held, refused, retracted), reason, at
memberships        audience_id, person_id, entered_at, exited_at (null while a member),
                   audience_version, cause, cause_event_id
membership_events  audience_id, person_id, action (entered, exited), at, audience_version,
                   cause, cause_event_id; keyed by the segment notification it came from
_positions         upstream (a service), position: the last notification of its log written,
                   committed in the transaction of the rows it produced
_decisions         decision_id, entrypoint, input, result, revision, decided_at: every
                   cdp.egress decision the rows rely on
_forgotten         kind, hash: keyed hashes of a forgotten person's ids, so calls synced after
                   the forget are written without them
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

TS = sa.DateTime(timezone=True)
JSON = JSONB(none_as_null=True)  # None is SQL NULL, not the JSON null


def define(schema: str) -> sa.MetaData:
    md = sa.MetaData(schema=schema)
    sa.Table(
        "events",
        md,
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("event", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("person_id", sa.Text, index=True),
        sa.Column("user_id", sa.Text, index=True),
        sa.Column("anonymous_id", sa.Text, index=True),
        sa.Column("timestamp", TS),
        sa.Column("received_at", TS),
        sa.Column("properties", JSON),
        sa.Column("traits", JSON),
        sa.Column("context", JSON),
        sa.Column("plan_name", sa.Text),
        sa.Column("plan_version", sa.BigInteger),
        sa.Column("violations", JSON),
        sa.Column("withheld", JSON),
        sa.Column("decision_id", sa.Text),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "profiles",
        md,
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("traits", JSON, nullable=False),
        sa.Column("first_seen", TS),
        sa.Column("last_seen", TS),
        sa.Column("cause_event_id", sa.Text),
        sa.Column("changed_at", TS),
        sa.Column("decision_id", sa.Text),
    )
    sa.Table(
        "profile_traits",
        md,
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", JSON),
        sa.Column("withheld", sa.Boolean, nullable=False),
        sa.Column("erased", sa.Boolean, nullable=False),
        sa.Column("source_id", sa.Text),
        sa.Column("source_event_id", sa.Text),
        sa.Column("updated_at", TS),
    )
    sa.Table(
        "persons",
        md,
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("merged_into", sa.Text),
        sa.Column("forgotten", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    sa.Table(
        "identifiers",
        md,
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, nullable=False, index=True),
        # Its person while it is the oldest of its own, and when it was first seen: the person of
        # a component of active links is that of its oldest identifier, as identity decides.
        sa.Column("own_person_id", sa.Text, nullable=False),
        sa.Column("seen_order", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "identity_links",
        md,
        sa.Column("edge_id", sa.Text, primary_key=True),
        sa.Column("a_type", sa.Text),
        sa.Column("a_value", sa.Text),
        sa.Column("b_type", sa.Text),
        sa.Column("b_value", sa.Text),
        sa.Column("rule", sa.Text),
        sa.Column("rule_version", sa.Text),
        sa.Column("score", sa.Float),
        sa.Column("event_id", sa.Text),
        sa.Column("decision_id", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", TS),
        # Walking a component of links goes from either end.
        sa.Index(f"{schema}_links_a", "a_type", "a_value"),
        sa.Index(f"{schema}_links_b", "b_type", "b_value"),
    )
    sa.Table(
        "memberships",
        md,
        sa.Column("audience_id", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("entered_at", TS),
        sa.Column("exited_at", TS),
        sa.Column("audience_version", sa.BigInteger),
        sa.Column("cause", sa.Text),
        sa.Column("cause_event_id", sa.Text),
    )
    sa.Table(
        "membership_events",
        md,
        sa.Column("originator_id", sa.Text, primary_key=True),
        sa.Column("originator_version", sa.BigInteger, primary_key=True),
        sa.Column("audience_id", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("at", TS),
        sa.Column("audience_version", sa.BigInteger),
        sa.Column("cause", sa.Text),
        sa.Column("cause_event_id", sa.Text),
    )
    sa.Table(
        "_positions",
        md,
        sa.Column("upstream", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    sa.Table(
        "_decisions",
        md,
        sa.Column("decision_id", sa.Text, primary_key=True),
        sa.Column("entrypoint", sa.Text, nullable=False),
        sa.Column("input", JSON, nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("revision", sa.Text, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
    )
    sa.Table(
        "_forgotten",
        md,
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("hash", sa.Text, primary_key=True),
    )
    return md


# The tables analysts query (the export writes these and the bookkeeping ones).
DATA_TABLES = (
    "events",
    "profiles",
    "profile_traits",
    "persons",
    "identifiers",
    "identity_links",
    "memberships",
    "membership_events",
)
ALL_TABLES = (*DATA_TABLES, "_positions", "_decisions", "_forgotten")
