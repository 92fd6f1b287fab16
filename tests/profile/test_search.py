"""Profile search over its read model, on SQLite and PostgreSQL: every operator answers as audiences
answer (cdp.segment.engine.compare is the reference), pages cover the matches exactly once with the
right total, and a condition is an index look-up (EXPLAIN), not a scan of the profiles."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.clock import format_iso
from cdp.platform.config import StoreConfig
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.readmodel import open_engine
from cdp.profile import search
from cdp.segment import language
from cdp.segment.engine import compare
from conftest import drop_schemas, postgres_dsn

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PLANS = ["basic", "pro", "Pro", "team", "enterprise", "pro-annual"]
TAGS = ["beta", "vip", "churn-risk", "eu"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = open_engine(StoreConfig(kind="sqlite", data_dir=tmp_path / "data"), "profile")
        yield engine
        engine.dispose()
        return
    dsn = postgres_dsn()
    prefix = f"test_computed_{uuid.uuid4().hex[:8]}_"
    engine = open_engine(
        StoreConfig(kind="postgres", data_dir=tmp_path / "data", postgres_dsn=dsn, schema_prefix=prefix), "profile"
    )
    yield engine
    engine.dispose()
    drop_schemas(dsn, prefix)


def changed(person_id: str, traits: dict) -> pb.ProfileChanged:
    return pb.ProfileChanged(
        profile=pb.Profile(
            person_id=person_id,
            traits={k: pb.TraitValue(value=orjson.dumps(v).decode(), source_id="web") for k, v in traits.items()},
        )
    )


def notifications(messages) -> list[Notification]:
    return [
        Notification(
            id=i + 1,
            originator_id=uuid.uuid4(),
            originator_version=1,
            topic=m.DESCRIPTOR.full_name,
            state=m.SerializeToString(),
        )
        for i, m in enumerate(messages)
    ]


def load(engine, messages, model: search.SearchModel | None = None) -> search.SearchQueries:
    search.metadata.create_all(engine)
    model = model or search.SearchModel(None, None)
    with engine.begin() as conn:
        for start in range(0, len(messages), 2000):
            model.apply(conn, notifications(messages[start : start + 2000]))
    return search.SearchQueries(engine, None)


def generated(n: int, seed: int = 3) -> dict[str, dict]:
    rng = random.Random(seed)
    out = {}
    for _ in range(n):
        traits: dict = {}
        if rng.random() < 0.8:
            traits["plan"] = rng.choice(PLANS)
        if rng.random() < 0.8:
            traits["ltv"] = rng.choice([rng.randrange(0, 1000), round(rng.uniform(0, 1000), 2), "12"])
        if rng.random() < 0.7:
            traits["signup"] = format_iso(NOW - timedelta(hours=rng.randrange(-24 * 30, 24 * 400)))
        if rng.random() < 0.6:
            traits["tags"] = rng.sample(TAGS, rng.randrange(0, 3))
        if rng.random() < 0.5:
            traits["vip"] = rng.random() < 0.5
        if rng.random() < 0.1:
            traits["plan"] = None  # a null trait is as a missing one
        out[str(uuid.UUID(int=rng.getrandbits(128)))] = traits
    return out


CONDITIONS = [
    {"trait": "plan", "op": "eq", "value": "pro"},
    {"trait": "plan", "op": "neq", "value": "pro"},
    {"trait": "plan", "op": "in", "value": ["pro", "team"]},
    {"trait": "plan", "op": "not_in", "value": ["pro", "team"]},
    {"trait": "plan", "op": "contains", "value": "ro"},
    {"trait": "plan", "op": "starts_with", "value": "pro"},
    {"trait": "plan", "op": "ends_with", "value": "e"},
    {"trait": "plan", "op": "gt", "value": "p"},
    {"trait": "plan", "op": "exists"},
    {"trait": "plan", "op": "not_exists"},
    {"trait": "ltv", "op": "gte", "value": 500},
    {"trait": "ltv", "op": "lt", "value": 100.5},
    {"trait": "ltv", "op": "eq", "value": "12"},
    {"trait": "ltv", "op": "neq", "value": 12},
    {"trait": "tags", "op": "contains", "value": "vip"},
    {"trait": "tags", "op": "eq", "value": ["beta", "eu"]},
    {"trait": "vip", "op": "eq", "value": True},
    {"trait": "signup", "op": "within_last", "value": "P30D"},
    {"trait": "signup", "op": "within_next", "value": "P7D"},
    {"trait": "signup", "op": "before", "value": "P90D"},
    {"trait": "signup", "op": "after", "value": "2026-06-01T00:00:00Z"},
    {"all": [{"trait": "plan", "op": "eq", "value": "pro"}, {"trait": "ltv", "op": "gte", "value": 200}]},
    {"any": [{"trait": "vip", "op": "eq", "value": True}, {"not": {"trait": "tags", "op": "exists"}}]},
    {"not": {"trait": "plan", "op": "in", "value": ["basic", "pro"]}},
]


def holds(node, traits: dict) -> bool:
    """The reference: the audience evaluator's rule for each leaf."""
    if isinstance(node, language.All):
        return all(holds(x, traits) for x in node.items)
    if isinstance(node, language.Any_):
        return any(holds(x, traits) for x in node.items)
    if isinstance(node, language.Not):
        return not holds(node.item, traits)
    return compare(node, traits.get(node.trait), NOW)[0]


def all_pages(queries: search.SearchQueries, where, page_size: int) -> tuple[list[str], set[int]]:
    found, totals, after = [], set(), ""
    while True:
        page, total = queries.search(where, after, page_size, False, NOW)
        totals.add(total)
        found += page
        if len(page) < page_size:
            return found, totals
        after = page[-1]


def test_every_operator_answers_as_audiences_do_and_pages_cover_each_match_once(engine):
    profiles = generated(400)
    queries = load(engine, [changed(p, t) for p, t in profiles.items()])
    for condition in CONDITIONS:
        where = search.parse_where(orjson.dumps(condition).decode())
        expected = sorted(p for p, t in profiles.items() if holds(where, {k: v for k, v in t.items() if v is not None}))
        found, totals = all_pages(queries, where, 7)
        assert found == expected, condition  # in id order, each once
        assert totals == {len(expected)}, condition
    assert any(all_pages(queries, search.parse_where(orjson.dumps(c).decode()), 7)[0] for c in CONDITIONS)


def test_a_merge_or_a_new_profile_replaces_the_rows(engine):
    a, b = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    queries = load(
        engine,
        [
            changed(a, {"plan": "pro"}),
            changed(b, {"plan": "pro"}),
            changed(a, {"plan": "team"}),
            pb.ProfileMerged(survivor_id=a, merged_id=b),
        ],
    )
    where = search.parse_where('{"trait": "plan", "op": "eq", "value": "pro"}')
    assert queries.search(where, "", 10, False, NOW) == ([], 0)
    assert queries.search(search.parse_where('{"trait": "plan", "op": "exists"}'), "", 10, False, NOW) == ([a], 1)


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ('{"trait": "plan", "op": "near", "value": 1}', "where.op"),
        ('{"all": [{"event": "Order Completed"}]}', "where.all[0]"),
        ('{"trait": "plan"', "where"),
        ('{"trait": "signup", "op": "within_last", "value": "P1M"}', "where.value"),
    ],
)
def test_a_bad_condition_names_its_field(where, field):
    with pytest.raises(InvalidArgument) as error:
        search.parse_where(where)
    assert error.value.field == field


def test_an_in_list_too_long_is_refused_with_its_field(engine):
    queries = load(engine, [])
    where = search.parse_where(orjson.dumps({"trait": "plan", "op": "in", "value": list(range(1001))}).decode())
    with pytest.raises(InvalidArgument) as error:
        queries.search(where, "", 10, False, NOW)
    assert error.value.field == "where.value"


def test_a_page_token_not_given_by_the_service_is_refused():
    with pytest.raises(InvalidArgument) as error:
        search.decode_token("not-a-token")
    assert error.value.field == "page_token"


def test_a_personal_trait_is_answered_only_by_equality_for_a_caller_who_may_see_it(engine):
    key = b"k" * 32
    token = "pii:v1:" + "A" * 10 + ":" + "B" * 40

    class Vault:
        def decrypt_many(self, items):
            return ['"ada@example.com"' if subject == "user_id:u1" else '"bob@example.com"' for subject, *_ in items]

    a, b = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    messages = []
    for person, subject in ((a, "user_id:u1"), (b, "user_id:u2")):
        m = changed(person, {"plan": "pro"})
        m.profile.traits["email"].CopyFrom(
            pb.TraitValue(value=orjson.dumps(token).decode(), subject=subject, event_type="identify")
        )
        messages.append(m)
    load(engine, messages, search.SearchModel(Vault(), key))  # type: ignore[arg-type]
    queries = search.SearchQueries(engine, key)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(search.traits).where(search.traits.c.name == "email")).all()
    assert all(r.text_value is None and r.json_value is None and r.blind for r in stored)  # nothing in clear
    eq = search.parse_where('{"trait": "email", "op": "eq", "value": "ada@example.com"}')
    with pytest.raises(PermissionDenied) as error:
        queries.search(eq, "", 10, False, NOW)
    assert error.value.field == "where.trait"
    assert queries.search(eq, "", 10, True, NOW) == ([a], 1)
    ends = search.parse_where('{"trait": "email", "op": "ends_with", "value": "example.com"}')
    with pytest.raises(InvalidArgument) as error:
        queries.search(ends, "", 10, True, NOW)
    assert error.value.field == "where.op"
    assert queries.search(search.parse_where('{"trait": "email", "op": "exists"}'), "", 10, False, NOW)[1] == 2


def _plans(engine, queries, where) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    out = []
    for statement in queries.statements(search.parse_where(where), False, NOW):
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            out.append("\n".join(str(r[-1]) for r in conn.execute(sa.text(prefix + str(compiled)))))
    return out


def _scans(plan: str) -> bool:
    """Whether a plan reads a whole table (SQLite: SCAN t; PostgreSQL: Seq Scan)."""
    return "Seq Scan" in plan or any(line.strip().startswith("SCAN ") for line in plan.splitlines())


def test_a_condition_reads_an_index_not_every_profile(engine):
    n = 100_000 if engine.dialect.name == "sqlite" else 30_000
    rng = random.Random(5)
    with engine.begin() as conn:
        search.metadata.create_all(conn)
        ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]
        conn.execute(search.persons.insert(), [{"person_id": p} for p in ids])
        plan_of = {p: ("legacy" if i % 1000 == 0 else rng.choice(PLANS)) for i, p in enumerate(ids)}
        plans = [{"person_id": p, "name": "plan", "text_value": v, "personal": False} for p, v in plan_of.items()]
        conn.execute(search.traits.insert(), plans)
        ltv = [{"person_id": p, "name": "ltv", "num_value": rng.uniform(0, 1e4), "personal": False} for p in ids]
        conn.execute(search.traits.insert(), ltv)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
    queries = search.SearchQueries(engine, None)
    for where, index in (
        ('{"trait": "ltv", "op": "gte", "value": 9990}', "search_number"),
        ('{"trait": "plan", "op": "eq", "value": "legacy"}', "search_text"),
        ('{"trait": "plan", "op": "starts_with", "value": "leg"}', "search_text"),
        # The value indexes hold only the rows of their kind: a condition they cannot answer reads
        # a trait's rows by name, from an index of every row.
        ('{"trait": "plan", "op": "ends_with", "value": "acy"}', ""),
    ):
        for plan in _plans(engine, queries, where):
            assert index in plan and not _scans(plan), (where, plan)
    figures = []
    for where in ('{"trait": "ltv", "op": "gte", "value": 9990}', '{"trait": "plan", "op": "eq", "value": "legacy"}'):
        started = time.perf_counter()
        page, total = queries.search(search.parse_where(where), "", 50, False, NOW)
        figures.append(f"{where}: {total} match, page and total in {(time.perf_counter() - started) * 1000:.1f} ms")
        assert 0 < total < n // 50 and len(page) == min(50, total)
    print(f"\nsearch over {n} profiles ({engine.dialect.name}):\n  " + "\n  ".join(figures))


def test_a_change_that_leaves_the_traits_as_they_were_is_not_indexed_again(engine):
    """Most profile changes are event counts: the person's rows stay, and their personal values are
    not decrypted again; only a trait that changes is indexed again (another trait's personal value
    is not decrypted for it), one removed loses its rows, and a merge removes them all."""
    key = b"k" * 32
    decrypted: list[str] = []

    class Vault:
        def decrypt_many(self, items):
            items = list(items)
            decrypted.extend(subject for subject, *_ in items)
            return [orjson.dumps(f"{token[-1]}@example.com").decode() for *_, token in items]

    model = search.SearchModel(Vault(), key)  # type: ignore[arg-type]
    person = str(uuid.UUID(int=7))

    def profile(plan: str | None, views: int, email: str = "A", tags=("vip",)) -> pb.ProfileChanged:
        m = changed(person, {"tags": list(tags)} if plan is None else {"plan": plan, "tags": list(tags)})
        token = "pii:v1:" + "A" * 10 + ":" + "B" * 39 + email
        m.profile.traits["email"].CopyFrom(
            pb.TraitValue(value=orjson.dumps(token).decode(), subject="user_id:u7", event_type="identify")
        )
        m.profile.event_counts["Viewed"] = views
        return m

    load(engine, [profile("pro", 1)], model)
    load(engine, [profile("pro", 2)], model)
    load(engine, [profile("pro", 3)], model)
    assert decrypted == ["user_id:u7"]
    queries = search.SearchQueries(engine, key)

    def count(condition: dict) -> int:
        return queries.search(search.parse_where(orjson.dumps(condition).decode()), "", 10, True, NOW)[1]

    assert count({"trait": "plan", "op": "eq", "value": "pro"}) == 1
    load(engine, [profile("team", 3)], model)
    assert decrypted == ["user_id:u7"], "the plan changed, not the email"
    assert count({"trait": "plan", "op": "eq", "value": "team"}) == 1
    assert count({"trait": "plan", "op": "eq", "value": "pro"}) == 0
    assert count({"trait": "email", "op": "eq", "value": "A@example.com"}) == 1
    assert count({"trait": "tags", "op": "contains", "value": "vip"}) == 1

    load(engine, [profile("team", 3, email="C", tags=("eu",))], model)
    assert decrypted == ["user_id:u7", "user_id:u7"], "the email changed: decrypted once more"
    assert count({"trait": "email", "op": "eq", "value": "A@example.com"}) == 0
    assert count({"trait": "email", "op": "eq", "value": "C@example.com"}) == 1
    assert count({"trait": "tags", "op": "contains", "value": "vip"}) == 0
    assert count({"trait": "tags", "op": "contains", "value": "eu"}) == 1

    load(engine, [profile(None, 3, email="C", tags=("eu",))], model)  # the plan trait removed
    assert count({"trait": "plan", "op": "exists"}) == 0
    assert count({"trait": "email", "op": "eq", "value": "C@example.com"}) == 1

    load(engine, [pb.ProfileMerged(survivor_id=str(uuid.UUID(int=8)), merged_id=person)], model)
    assert count({"trait": "email", "op": "exists"}) == 0
    assert count({"trait": "tags", "op": "exists"}) == 0
    load(engine, [profile("team", 4)], model)  # back (a split): indexed again
    assert count({"trait": "plan", "op": "exists"}) == 1
    assert count({"trait": "email", "op": "eq", "value": "A@example.com"}) == 1


def test_a_person_indexed_before_trait_digests_is_indexed_anew_once(engine):
    """An index of persons made before it had trait digests gets the column at start; each person
    indexed before is written whole at its next change, and their trait digests kept from then."""
    person = str(uuid.UUID(int=9))
    with engine.begin() as conn:
        search.metadata.create_all(conn)
        conn.execute(sa.text("DROP TABLE search_indexed"))
        conn.execute(
            sa.text("CREATE TABLE search_indexed (person_id VARCHAR(36) PRIMARY KEY, digest VARCHAR(32) NOT NULL)")
        )
        conn.execute(sa.text("INSERT INTO search_indexed VALUES (:p, 'old')"), {"p": person})
        conn.execute(search.persons.insert(), [{"person_id": person}])
        conn.execute(
            search.traits.insert(), [{"person_id": person, "name": "gone", "text_value": "x", "personal": False}]
        )
    search.upgrade_indexes(engine)
    search.upgrade_indexes(engine)
    queries = load(engine, [changed(person, {"plan": "pro"})])
    assert queries.search(search.parse_where('{"trait": "gone", "op": "exists"}'), "", 10, False, NOW) == ([], 0)
    assert queries.search(search.parse_where('{"trait": "plan", "op": "eq", "value": "pro"}'), "", 10, False, NOW) == (
        [person],
        1,
    )
    with engine.connect() as conn:
        assert conn.execute(sa.select(search.indexed.c.trait_digests)).scalar_one() is not None


def test_a_search_table_made_with_full_indexes_gets_the_partial_ones_and_keeps_its_rows(engine):
    """Each value index holds only the rows of its kind (a text row is not in the number index);
    a table made before that has its full indexes swapped at start, its rows kept."""
    with engine.begin() as conn:
        search.metadata.create_all(conn)
        for index in search.PARTIAL_INDEXES:  # as the table was made before
            conn.execute(sa.text(f"DROP INDEX {index.name}"))
        for name, column in zip(
            search.FULL_INDEXES_BEFORE, ["text_value", "num_value", "time_value", "json_value", "blind"], strict=True
        ):
            conn.execute(sa.text(f"CREATE INDEX {name} ON search_traits (name, {column})"))
        conn.execute(search.persons.insert(), [{"person_id": "p1"}])
        row = {"person_id": "p1", "name": "plan", "text_value": "pro", "personal": False}
        conn.execute(search.traits.insert(), [row])

    search.upgrade_indexes(engine)
    search.upgrade_indexes(engine)  # at every start: once done, nothing to do

    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'search_traits'"
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'search_traits' AND schemaname = current_schema()"
        )
    with engine.connect() as conn:
        made = {name: sql or "" for name, sql in conn.execute(sa.text(query))}
    assert not set(search.FULL_INDEXES_BEFORE) & set(made)
    for index in search.PARTIAL_INDEXES:
        assert "WHERE" in made[index.name].upper() and "NOT NULL" in made[index.name].upper(), made[index.name]
    assert "search_personal" in made and "WHERE" not in made["search_personal"].upper()
    page, total = search.SearchQueries(engine, None).search(
        search.parse_where('{"trait": "plan", "op": "eq", "value": "pro"}'), "", 10, False, NOW
    )
    assert total == 1 and list(page) == ["p1"]


def test_a_page_changing_many_traits_of_many_persons_is_indexed(engine):
    """A bulk import changing 40 traits of 1000 known persons in one page: the rows to replace are
    more than a statement's parameters may number (PostgreSQL: 65,535)."""
    persons = [str(uuid.UUID(int=1000 + i)) for i in range(1000)]
    load(engine, [changed(p, {f"t{k}": 0 for k in range(40)}) for p in persons])
    queries = load(engine, [changed(p, {f"t{k}": 1 for k in range(40)}) for p in persons])
    for k in (0, 39):
        where = search.parse_where(orjson.dumps({"trait": f"t{k}", "op": "eq", "value": 1}).decode())
        assert queries.search(where, "", 10, False, NOW)[1] == 1000
        where = search.parse_where(orjson.dumps({"trait": f"t{k}", "op": "eq", "value": 0}).decode())
        assert queries.search(where, "", 10, False, NOW)[1] == 0
