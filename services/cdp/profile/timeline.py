"""The timeline read model: every call of every person, indexed by (person, timestamp, event id).

Each call is kept under its key (its user id, else its anonymous id) and the person that key
belonged to when it came; a later PartObserved of the key (a merge, a split, identity giving the
key to another person) gives all its calls to the key's new person. So a survivor's timeline holds
the merged person's calls, and after a split each part holds its own. Personal values stay tokens,
as the collector sealed them: forgetting a person (destroying their keys) erases them here too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.errors import InvalidArgument
from cdp.platform.published import decode, topic_of

TOPICS = topic_of(pb.CallsObserved, pb.PartObserved)

metadata = sa.MetaData()
events = sa.Table(
    "timeline_events",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("person_id", sa.String(36), nullable=False),
    sa.Column("timestamp", sa.String(40), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("key_type", sa.String(20), nullable=False),
    sa.Column("key_value", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # serialised cdp.profile.v1.TimelineEvent
    sa.Index("timeline_by_person", "person_id", "timestamp", "event_id"),
    sa.Index("timeline_by_key", "key_type", "key_value"),
)


def apply(conn: sa.Connection, page: Sequence[Notification]) -> None:
    """The page's calls and moves, in a few statements, with the effect of applying them in log
    order: a call belongs to the person of the last PartObserved of its key after it (else to the
    person it came with), a call stored again replaces the earlier copy, and the rows stored before
    the page go to the person of their key's last PartObserved in it."""
    rows: dict[str, dict] = {}  # by event id; walking back, the first seen is the last stored
    moved_to: dict[tuple[str, str], str] = {}  # a key's last move seen so far, walking back
    for n in reversed(page):
        message = decode(n.topic, n.state)
        if isinstance(message, pb.CallsObserved):
            for c in reversed(message.calls):
                if c.event.event_id in rows:
                    continue
                key = (c.key_type, c.key_value)
                rows[c.event.event_id] = {
                    "event_id": c.event.event_id,
                    "person_id": moved_to.get(key, c.person_id),
                    "timestamp": c.event.timestamp,
                    "type": c.event.type,
                    "key_type": c.key_type,
                    "key_value": c.key_value,
                    "body": c.event.SerializeToString(),
                }
        elif isinstance(message, pb.PartObserved) and message.person_id:
            moved_to.setdefault((message.key_type, message.key_value), message.person_id)
    if rows:
        conn.execute(events.delete().where(events.c.event_id.in_(list(rows))))
    if moved_to:
        conn.execute(
            events.update()
            .where(
                events.c.key_type == sa.bindparam("b_key_type"),
                events.c.key_value == sa.bindparam("b_key_value"),
                events.c.person_id != sa.bindparam("b_person_id"),
            )
            .values(person_id=sa.bindparam("b_person_id")),
            [{"b_key_type": t, "b_key_value": v, "b_person_id": p} for (t, v), p in moved_to.items()],
        )
    if rows:
        conn.execute(events.insert(), list(reversed(rows.values())))


@dataclass(frozen=True)
class Filter:
    types: Sequence[str] = ()
    since: str = ""  # RFC 3339, UTC: at or after
    until: str = ""  # before


def encode_token(event: pb.TimelineEvent) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([event.timestamp, event.event_id])).decode()


def decode_token(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        timestamp, event_id = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise InvalidArgument("page_token", "not a token this service gave: pass next_page_token back") from error
    if not isinstance(timestamp, str) or not isinstance(event_id, str):
        raise InvalidArgument("page_token", "not a token this service gave: pass next_page_token back")
    return timestamp, event_id


class TimelineQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def page(
        self, person_id: str, limit: int, after: tuple[str, str] | None, where: Filter
    ) -> tuple[list[pb.TimelineEvent], bool]:
        """The person's calls newest first, those after `after` (a timestamp and event id, the last
        of the previous page) only; and whether more follow. Keyset paging on the index: a call
        that arrives meanwhile is either before the page or in a later one, never twice."""
        query = sa.select(events.c.body).where(events.c.person_id == person_id)
        if after is not None:
            timestamp, event_id = after
            query = query.where(
                sa.or_(
                    events.c.timestamp < timestamp,
                    sa.and_(events.c.timestamp == timestamp, events.c.event_id < event_id),
                )
            )
        if where.types:
            query = query.where(events.c.type.in_(list(where.types)))
        if where.since:
            query = query.where(events.c.timestamp >= where.since)
        if where.until:
            query = query.where(events.c.timestamp < where.until)
        query = query.order_by(events.c.timestamp.desc(), events.c.event_id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).scalars().all()
        found = [pb.TimelineEvent.FromString(body) for body in rows[:limit]]
        return found, len(rows) > limit

    def calls_of(self, person_id: str, types: Sequence[str]) -> list[tuple[pb.TimelineEvent, str, str]]:
        """The person's calls of these types, newest first, each with the key (identifier type and
        value) its facts are kept under."""
        query = (
            sa.select(events.c.body, events.c.key_type, events.c.key_value)
            .where(events.c.person_id == person_id, events.c.type.in_(list(types)))
            .order_by(events.c.timestamp.desc(), events.c.event_id.desc())
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(pb.TimelineEvent.FromString(body), key_type, key_value) for body, key_type, key_value in rows]
