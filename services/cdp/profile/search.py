"""Profile search: the latest traits of every person, one row per trait, indexed by (name, value),
and the audience language's trait conditions compiled to SQL over them.

Each value is kept by kind (text, number, time, a list's items, its JSON text), so each operator is
an index range on one column: `plan eq "pro"` reads the (name, text) index, `ltv gte 100` the
(name, number) one. A condition's persons come from the index and the page is a keyset range of
person ids, so neither the page nor the total scans the profiles.

The rules are those of audiences (cdp.segment.engine.compare): a missing (or null) trait holds
nothing but not_exists, so it is not `neq` anything. A personal trait is stored as its token and a
keyed hash of its clear value (the platform's blind index): only equality can be asked of it, and
only by a caller who may see it in clear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.clock import format_iso, parse_iso
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from cdp.platform.vault import Vault, blind_index, is_token
from cdp.segment import language
from cdp.segment.leaves import InvalidAudience, TraitCondition

TOPICS = topic_of(pb.ProfileChanged, pb.ProfileMerged)
BLIND_KIND = "trait"
# Text compares by code point, as Python compares strings (PostgreSQL's default collation does not).
_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

metadata = sa.MetaData()
persons = sa.Table("search_persons", metadata, sa.Column("person_id", sa.String(36), primary_key=True))
traits = sa.Table(
    "search_traits",
    metadata,
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("text_value", _TEXT),
    sa.Column("num_value", sa.Float),
    sa.Column("time_value", sa.String(40)),  # RFC 3339, UTC, milliseconds: ordered as text
    sa.Column("json_value", _TEXT),  # other values (true, a list, an object) as JSON text, keys sorted
    sa.Column("blind", sa.String(64)),  # a personal value: the keyed hash of its clear JSON text
    sa.Column("personal", sa.Boolean, nullable=False, default=False),
    # Every row is in this one: exists, not_exists and neq read a trait's rows by name alone.
    sa.Index("search_personal", "name", "personal"),
)


def _partial(name: str, column: str) -> sa.Index:
    """An index of the rows holding a value of this kind: a row holds one kind or two (a text
    that is also a time), and indexing the other kinds' NULLs took half of each row's insert. A
    comparison with the column implies it is not NULL, so both databases' planners use them."""
    where = traits.c[column].is_not(None)
    return sa.Index(name, traits.c.name, traits.c[column], sqlite_where=where, postgresql_where=where)


PARTIAL_INDEXES = [
    _partial("search_text", "text_value"),
    _partial("search_number", "num_value"),
    _partial("search_time", "time_value"),
    _partial("search_json", "json_value"),
    _partial("search_blind", "blind"),
]
FULL_INDEXES_BEFORE = ["search_by_text", "search_by_number", "search_by_time", "search_by_json", "search_by_blind"]
items = sa.Table(  # the items of a list trait, for contains
    "search_trait_items",
    metadata,
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("item", _TEXT, primary_key=True),  # JSON text, keys sorted
    sa.Index("search_items_by_value", "name", "item"),
)
indexed = sa.Table(  # what each person's rows were made from: a profile whose traits did not change is skipped
    "search_indexed",
    metadata,
    sa.Column("person_id", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(32), nullable=False),
    # name -> the digest of that trait's rows (JSON): a change rewrites only the traits it changed.
    # NULL in a row made before it: that person's rows are all rewritten once.
    sa.Column("trait_digests", sa.Text),
)
MAX_LISTED = 1000  # values of an in or not_in condition
MAX_INDEXED = 1000  # longer texts and JSON are not indexed (a condition on them is not answered)
# (person, trait) pairs a delete names: two parameters each, and a statement may have 65,535
# (PostgreSQL) or 32,766 (SQLite's default); a bulk change of a page's persons has more.
REPLACED_PER_STATEMENT = 1000


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _time(value: str) -> str | None:
    try:
        return format_iso(parse_iso(value))
    except ValueError:
        return None


def upgrade_indexes(engine: sa.Engine) -> None:
    """A search table made before the partial indexes: their full ones swapped for them (once; a
    new table is made with them). An index of persons made before trait digests gets the column."""
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table(traits.name):
            return
        present = {i["name"] for i in sa.inspect(conn).get_indexes(traits.name)}
        for name in FULL_INDEXES_BEFORE:
            if name in present:
                conn.execute(sa.text(f"DROP INDEX {name}"))
        for index in PARTIAL_INDEXES:
            if index.name not in present:
                index.create(conn)
        columns = {c["name"] for c in sa.inspect(conn).get_columns(indexed.name)}
        if "trait_digests" not in columns:
            conn.execute(sa.text(f"ALTER TABLE {indexed.name} ADD COLUMN trait_digests TEXT"))


class SearchModel:
    """The projection: rows of each published profile (personal values hashed, never in clear)."""

    def __init__(self, vault: Vault | None, index_key: bytes | None):
        self.vault = vault
        self.index_key = index_key

    def apply(self, conn: sa.Connection, page: Sequence[Notification]) -> None:
        latest: dict[str, pb.Profile | None] = {}
        for n in page:
            message = decode(n.topic, n.state)
            if isinstance(message, pb.ProfileChanged):
                latest[message.profile.person_id] = message.profile
            elif isinstance(message, pb.ProfileMerged):
                latest[message.merged_id] = None
        if not latest:
            return
        # Most changes are of event counts, not traits: such a person's rows stay as they are (and
        # their personal values are not decrypted again); of a change to one trait, only that
        # trait's rows are written again.
        now = {p: _trait_digests(profile) for p, profile in latest.items() if profile is not None}
        digests = {p: _digest_of(each) for p, each in now.items()}
        had = {
            person_id: (digest, orjson.loads(names) if names else None)
            for person_id, digest, names in conn.execute(
                sa.select(indexed.c.person_id, indexed.c.digest, indexed.c.trait_digests).where(
                    indexed.c.person_id.in_(list(latest))
                )
            )
        }
        gone = [p for p, profile in latest.items() if profile is None and p in had]
        whole: list[str] = []  # persons indexed anew: every row
        stale: list[tuple[str, str]] = []  # (person, trait) rows to write again
        written: dict[str, pb.Profile] = {}
        for person_id, names in now.items():
            before = had.get(person_id)
            if before is not None and before[0] == digests[person_id]:
                continue
            written[person_id] = latest[person_id]  # type: ignore[assignment]
            if before is None or before[1] is None:
                whole.append(person_id)
                continue
            old = before[1]
            stale += [(person_id, n) for n in names.keys() | old.keys() if names.get(n) != old.get(n)]
        if not (gone or whole or stale):
            return
        if gone or whole:
            dropped = gone + whole
            for table in (items, traits, persons, indexed):
                conn.execute(table.delete().where(table.c.person_id.in_(dropped)))
        for start in range(0, len(stale), REPLACED_PER_STATEMENT):
            pairs = stale[start : start + REPLACED_PER_STATEMENT]
            for table in (items, traits):
                conn.execute(table.delete().where(sa.tuple_(table.c.person_id, table.c.name).in_(pairs)))
        refreshed = [p for p in written if p not in whole]
        if refreshed:
            conn.execute(
                indexed.update()
                .where(indexed.c.person_id == sa.bindparam("p"))
                .values(digest=sa.bindparam("d"), trait_digests=sa.bindparam("t")),
                [{"p": p, "d": digests[p], "t": orjson.dumps(now[p]).decode()} for p in refreshed],
            )
        if whole:
            conn.execute(
                indexed.insert(),
                [{"person_id": p, "digest": digests[p], "trait_digests": orjson.dumps(now[p]).decode()} for p in whole],
            )
        changed = set(stale)
        person_rows: list[dict[str, Any]] = [{"person_id": p} for p in whole]
        trait_rows: list[dict[str, Any]] = []
        item_rows: list[dict[str, Any]] = []
        sealed: list[tuple[dict[str, Any], tuple[str, str, str, str]]] = []  # a row to hash, its token
        for person_id, profile in written.items():
            every = person_id in whole
            for name, trait in profile.traits.items():
                if not every and (person_id, name) not in changed:
                    continue
                row = _row(name, trait)
                if row is None:
                    continue
                row.update(person_id=person_id, name=name)
                value = orjson.loads(trait.value)
                if row["personal"]:
                    sealed.append((row, (trait.subject, trait.event_type, name, value)))
                    continue
                trait_rows.append(row)
                if isinstance(value, list):
                    found = {_canonical(v) for v in value}
                    item_rows += [
                        {"person_id": person_id, "name": name, "item": i} for i in found if len(i) <= MAX_INDEXED
                    ]
        trait_rows += self._hashed(sealed)
        for table, rows in ((persons, person_rows), (traits, trait_rows), (items, item_rows)):
            if rows:
                conn.execute(table.insert(), rows)

    def _hashed(self, sealed: list[tuple[dict[str, Any], tuple[str, str, str, str]]]) -> list[dict[str, Any]]:
        """The rows of personal values, each with the keyed hash of its clear value (one vault call
        for all); an erased value has no row. Without the vault and the key, a row says only that
        the trait is personal (a condition on it is then refused)."""
        if not sealed:
            return []
        if self.vault is None or self.index_key is None:
            return [row for row, _ in sealed]
        texts = self.vault.decrypt_many(token for _, token in sealed)  # hashed, then dropped
        out = []
        for (row, _), text in zip(sealed, texts, strict=True):
            if text is not None:
                row["blind"] = blind_index(self.index_key, BLIND_KIND, _canonical(orjson.loads(text)))
                out.append(row)
        return out


def _trait_digests(profile: pb.Profile) -> dict[str, str]:
    """What each trait's rows are made of (its value and whether it is erased), by name."""
    return {
        name: hashlib.blake2b(orjson.dumps([trait.value, trait.erased]), digest_size=12).hexdigest()
        for name, trait in profile.traits.items()
    }


def _digest_of(trait_digests: dict[str, str]) -> str:
    """What a profile's rows are made of: all its traits' digests, by name."""
    return hashlib.blake2b(orjson.dumps(trait_digests, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def _row(name: str, trait: pb.TraitValue) -> dict[str, Any] | None:
    """A trait's columns by the kind of its value (a personal one: only marked, to be hashed)."""
    if trait.erased or len(name) > 200:
        return None
    value = orjson.loads(trait.value)
    if value is None:
        return None  # a null trait holds nothing but not_exists, as a missing one
    row: dict[str, Any] = {
        "text_value": None,
        "num_value": None,
        "time_value": None,
        "json_value": None,
        "blind": None,
        "personal": is_token(value),
    }
    if row["personal"]:
        return row
    if isinstance(value, str):
        if len(value) <= MAX_INDEXED:
            row["text_value"] = value
        row["time_value"] = _time(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        row["num_value"] = float(value)
    else:
        text = _canonical(value)
        row["json_value"] = text if len(text) <= MAX_INDEXED else None
    return row


# Conditions -> SQL ---------------------------------------------------------------------------------


def parse_where(text: str) -> language.Node:
    """The condition (JSON text); only trait conditions under all, any and not."""
    try:
        decoded = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InvalidArgument("where", f"is not JSON ({e})") from None
    try:
        node = language.parse(decoded, "where")
    except InvalidAudience as error:
        raise InvalidArgument(str(error)) from None
    _only_traits(node, "where")
    return node


def _only_traits(node: language.Node, where: str) -> None:
    if isinstance(node, language.All | language.Any_):
        kind = "all" if isinstance(node, language.All) else "any"
        for i, item in enumerate(node.items):
            _only_traits(item, f"{where}.{kind}[{i}]")
    elif isinstance(node, language.Not):
        _only_traits(node.item, f"{where}.not")
    elif not isinstance(node, TraitCondition):
        raise InvalidArgument(where, "search takes trait conditions (under all, any, not) only")


def encode_token(person_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["p", person_id])).decode()


def decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        kind, person_id = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise InvalidArgument("page_token", "not a token this service gave: pass next_page_token back") from error
    if kind != "p" or not isinstance(person_id, str):
        raise InvalidArgument("page_token", "not a token this service gave: pass next_page_token back")
    return person_id


class SearchQueries:
    def __init__(self, engine: sa.Engine, index_key: bytes | None):
        self.engine = engine
        self.index_key = index_key

    def search(self, where: language.Node, after: str, limit: int, clear: bool, now: datetime) -> tuple[list[str], int]:
        """One page of matching person ids after `after` (in id order), and how many match."""
        with self.engine.connect() as conn:
            compiler = _Compiler(conn, self.index_key, clear, now)
            condition = compiler.node(where, "where")
            page = conn.execute(
                sa.select(persons.c.person_id)
                .where(condition, persons.c.person_id > after)
                .order_by(persons.c.person_id)
                .limit(limit)
            ).scalars()
            found = list(page)
            total = conn.execute(sa.select(sa.func.count()).select_from(persons).where(condition)).scalar_one()
        return found, int(total)

    def statements(self, where: language.Node, clear: bool, now: datetime) -> list[sa.Select[Any]]:
        """The first page's query and the total's (for EXPLAIN)."""
        with self.engine.connect() as conn:
            condition = _Compiler(conn, self.index_key, clear, now).node(where, "where")
        return [
            sa.select(persons.c.person_id).where(condition).order_by(persons.c.person_id).limit(50),
            sa.select(sa.func.count()).select_from(persons).where(condition),
        ]


class _Compiler:
    def __init__(self, conn: sa.Connection, index_key: bytes | None, clear: bool, now: datetime):
        self.conn = conn
        self.index_key = index_key
        self.clear = clear
        self.now = now
        self.postgres = conn.dialect.name == "postgresql"

    def node(self, node: language.Node, where: str) -> sa.ColumnElement[bool]:
        if isinstance(node, language.All):
            return sa.and_(*(self.node(x, f"{where}.all[{i}]") for i, x in enumerate(node.items)))
        if isinstance(node, language.Any_):
            return sa.or_(*(self.node(x, f"{where}.any[{i}]") for i, x in enumerate(node.items)))
        if isinstance(node, language.Not):
            return sa.not_(self.node(node.item, f"{where}.not"))
        assert isinstance(node, TraitCondition)
        return self.leaf(node, where)

    def _having(self, name: str, *predicates: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        rows = sa.select(traits.c.person_id).where(traits.c.name == name, *predicates)
        return persons.c.person_id.in_(rows)

    def _personal(self, name: str) -> bool:
        found = self.conn.execute(
            sa.select(traits.c.person_id).where(traits.c.name == name, traits.c.personal.is_(True)).limit(1)
        ).first()
        return found is not None

    def leaf(self, c: TraitCondition, where: str) -> sa.ColumnElement[bool]:
        name, op, value = c.trait, c.op, c.value
        if op == "exists":
            return self._having(name)
        if op == "not_exists":
            return sa.not_(self._having(name))
        if self._personal(name):
            if not self.clear:
                raise PermissionDenied(
                    f"trait {name} is personal: a caller who may see it only masked may not search on it",
                    field=f"{where}.trait",
                )
            if op != "eq" or self.index_key is None:
                raise InvalidArgument(
                    f"{where}.op",
                    f"trait {name} is personal: it is kept sealed, so only eq (on its keyed hash) is answered",
                )
            return self._having(name, traits.c.blind == blind_index(self.index_key, BLIND_KIND, _canonical(value)))
        if op in ("in", "not_in") and len(value) > MAX_LISTED:
            raise InvalidArgument(f"{where}.value", f"{op} takes at most {MAX_LISTED} values")
        if op == "eq":
            return self._having(name, self._eq(value))
        if op == "neq":
            return self._having(name, self._neq(value))
        if op == "in":
            return self._having(name, sa.or_(sa.false(), *(self._eq(v) for v in value)))
        if op == "not_in":
            return self._having(name, sa.and_(sa.true(), *(self._neq(v) for v in value)))
        if op in ("gt", "gte", "lt", "lte"):
            return self._having(name, self._order(op, value))
        if op == "contains":
            return self._contains(name, value)
        if op in ("starts_with", "ends_with"):
            if not isinstance(value, str):
                return sa.false()
            column = traits.c.text_value
            if op == "starts_with":
                return self._having(name, column >= value, column < value + "\U0010ffff")
            tail = sa.func.substr(column, sa.func.length(column) - len(value) + 1)
            return self._having(name, sa.func.length(column) >= len(value), tail == value)
        return self._having(name, *self._times(op, value))

    def _eq(self, value: Any) -> sa.ColumnElement[bool]:
        """Equal as Python compares decoded JSON (1 == 1.0; a text is no number): true on the row,
        else false or null (another kind of value), so it reads the column's index."""
        if isinstance(value, str):
            return traits.c.text_value == value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return traits.c.num_value == float(value)
        if value is None:
            return sa.false()
        return traits.c.json_value == _canonical(value)

    def _neq(self, value: Any) -> sa.ColumnElement[bool]:
        return sa.not_(sa.func.coalesce(self._eq(value), False))

    def _order(self, op: str, value: Any) -> sa.ColumnElement[bool]:
        if isinstance(value, str):
            column: Any = traits.c.text_value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            column, value = traits.c.num_value, float(value)
        else:
            return sa.false()
        compared = {"gt": column > value, "gte": column >= value, "lt": column < value, "lte": column <= value}[op]
        return sa.and_(column.is_not(None), compared)

    def _contains(self, name: str, value: Any) -> sa.ColumnElement[bool]:
        listed = persons.c.person_id.in_(
            sa.select(items.c.person_id).where(items.c.name == name, items.c.item == _canonical(value))
        )
        if not isinstance(value, str):
            return listed
        column = traits.c.text_value
        found = sa.func.strpos(column, value) if self.postgres else sa.func.instr(column, value)
        return sa.or_(self._having(name, column.is_not(None), found > 0), listed)

    def _times(self, op: str, value: Any) -> list[sa.ColumnElement[bool]]:
        column = traits.c.time_value
        now = self.now
        if op in language.DATE_OPS and not language.is_duration(value):
            x = format_iso(parse_iso(value))
            return [column < x] if op == "before" else [column > x]
        d = language.duration(value, "value")
        if op == "before":
            return [column <= format_iso(now - d)]
        if op == "after":
            return [column > format_iso(now - d)]
        if op == "within_last":
            return [column > format_iso(now - d), column <= format_iso(now)]
        return [column > format_iso(now), column <= format_iso(now + d)]
