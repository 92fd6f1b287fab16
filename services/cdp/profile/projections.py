"""The profiles read model: the latest profile of each person, and who was merged into whom.

A person merged away can come back (a split restores its id): its new profile then replaces the
record of its merge."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.published import decode

metadata = sa.MetaData()
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Column("body", sa.LargeBinary, nullable=False),  # serialised cdp.profile.v1.Profile
    sa.Column("last_seen", sa.String(40), nullable=False),
)
merged = sa.Table(
    "merged_persons",
    metadata,
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Column("survivor_id", sa.String(36), nullable=False),
)


def apply(conn: sa.Connection, page: Sequence[Notification]) -> None:
    latest: dict[str, bytes] = {}
    last_seen: dict[str, str] = {}
    gone: dict[str, str] = {}
    for n in page:
        message = decode(n.topic, n.state)
        if isinstance(message, pb.ProfileChanged):
            latest[message.profile.person_id] = message.profile.SerializeToString()
            last_seen[message.profile.person_id] = message.profile.last_seen
            gone.pop(message.profile.person_id, None)
        elif isinstance(message, pb.ProfileMerged):
            gone[message.merged_id] = message.survivor_id
            latest.pop(message.merged_id, None)
    touched = list(latest) + list(gone)
    if touched:
        conn.execute(profiles.delete().where(profiles.c.person_id.in_(touched)))
        conn.execute(merged.delete().where(merged.c.person_id.in_(touched)))
    if latest:
        conn.execute(
            profiles.insert(), [{"person_id": p, "body": body, "last_seen": last_seen[p]} for p, body in latest.items()]
        )
    if gone:
        conn.execute(merged.insert(), [{"person_id": p, "survivor_id": s} for p, s in gone.items()])


class ProfileQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def survivor_of(self, person_id: str) -> str:
        """The person a merged person's calls and profile are under now (itself if not merged)."""
        with self.engine.connect() as conn:
            for _ in range(16):
                moved = conn.execute(sa.select(merged.c.survivor_id).where(merged.c.person_id == person_id)).first()
                if not moved:
                    return person_id
                person_id = moved[0]
        return person_id

    def get(self, person_id: str) -> pb.Profile | None:
        with self.engine.connect() as conn:
            for _ in range(16):  # follow merges to the survivor
                row = conn.execute(sa.select(profiles.c.body).where(profiles.c.person_id == person_id)).first()
                if row:
                    return pb.Profile.FromString(row[0])
                moved = conn.execute(sa.select(merged.c.survivor_id).where(merged.c.person_id == person_id)).first()
                if not moved:
                    return None
                person_id = moved[0]
        return None

    def many(self, person_ids: Sequence[str]) -> list[pb.Profile]:
        """Profiles of these persons in one query (merged persons: one more look-up each)."""
        with self.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    sa.select(profiles.c.person_id, profiles.c.body).where(profiles.c.person_id.in_(list(person_ids)))
                ).all()
            )
        found = [pb.Profile.FromString(rows[p]) if p in rows else self.get(p) for p in person_ids]
        return [p for p in found if p is not None]

    def page(self, after: str, limit: int) -> list[pb.Profile]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(profiles.c.body)
                .where(profiles.c.person_id > after)
                .order_by(profiles.c.person_id)
                .limit(limit)
            ).all()
        return [pb.Profile.FromString(r[0]) for r in rows]
