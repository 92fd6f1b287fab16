"""The accounts read model: each account's own traits, and its members.

An account's traits come from AccountChanged (the fold of every group call naming it), its members
from AccountMembershipChanged (a person joins with a group call of theirs or a merge, and leaves when
merged away or split off), so a second user of a company sees the traits the first one sent."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.published import decode, topic_of

TOPICS = topic_of(pb.AccountChanged, pb.AccountMembershipChanged)

metadata = sa.MetaData()
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(400), primary_key=True),
    sa.Column("body", sa.LargeBinary, nullable=False),  # serialised cdp.profile.v1.Account
)
members = sa.Table(
    "account_members",
    metadata,
    sa.Column("account_id", sa.String(400), primary_key=True),
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Index("account_members_by_person", "person_id"),
)


def apply(conn: sa.Connection, page: Sequence[Notification]) -> None:
    latest: dict[str, bytes] = {}
    for n in page:
        message = decode(n.topic, n.state)
        if isinstance(message, pb.AccountChanged):
            latest[message.account.group_id] = message.account.SerializeToString()
        elif isinstance(message, pb.AccountMembershipChanged):
            # In log order: a person may join and leave within one page.
            key = (members.c.account_id == message.account_id) & (members.c.person_id == message.person_id)
            conn.execute(members.delete().where(key))
            if message.member:
                conn.execute(members.insert().values(account_id=message.account_id, person_id=message.person_id))
    if latest:
        conn.execute(accounts.delete().where(accounts.c.account_id.in_(list(latest))))
        conn.execute(accounts.insert(), [{"account_id": a, "body": b} for a, b in latest.items()])


class AccountQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, account_id: str) -> pb.Account | None:
        """The account with its traits and member count; None if no call named it."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts.c.body).where(accounts.c.account_id == account_id)).first()
            count = self._count(conn, account_id)
        if row is None and not count:
            return None
        account = pb.Account.FromString(row[0]) if row else pb.Account(group_id=account_id)
        account.member_count = count
        return account

    def many(self, account_ids: Sequence[str]) -> dict[str, pb.Account]:
        """The accounts found among these ids (traits only), in one query."""
        if not account_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(accounts.c.account_id, accounts.c.body).where(accounts.c.account_id.in_(list(account_ids)))
            ).all()
        return {a: pb.Account.FromString(body) for a, body in rows}

    def members(self, account_id: str, after: str, limit: int) -> tuple[list[str], int]:
        """A page of member person ids after `after`, in id order, and how many members there are."""
        with self.engine.connect() as conn:
            page = conn.execute(
                sa.select(members.c.person_id)
                .where(members.c.account_id == account_id, members.c.person_id > after)
                .order_by(members.c.person_id)
                .limit(limit)
            ).scalars()
            found = list(page)
            return found, self._count(conn, account_id)

    @staticmethod
    def _count(conn: sa.Connection, account_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(members).where(members.c.account_id == account_id)
        return int(conn.execute(query).scalar_one())
