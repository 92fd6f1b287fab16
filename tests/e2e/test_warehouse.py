"""End to end: the warehouse sync against the five services as real processes and a real PostgreSQL.

Calls go in over gRPC, an audience is built, `cdp warehouse sync` runs as its own process, and SQL
over the warehouse schema must agree with what the services answer; a sync killed or failing
mid-run and run again neither loses nor duplicates a row; no personal value policy withholds
reaches a table; a forget takes the person's personal values out of every table.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.cli.warehouse import engine_for
from cdp.client.local import connect
from cdp.platform.config import REPO_POLICIES, SERVICES
from cdp.platform.policy.backends import make_engine
from cdp.platform.policy.bundle import load_bundle
from cdp.warehouse.application import UPSTREAMS, EgressDecider, Warehouse
from cdp.warehouse.tables import ALL_TABLES, DATA_TABLES
from support.calls import event, ident, trait_condition
from support.governance import invoke_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DSN = os.environ.get("CDP_TEST_POSTGRES", "")

# Who is sent, with personal values no table may hold in clear.
PEOPLE = {
    "wh-u1": {"anon": "wh-a1", "email": "zebulonia.wh@example.com", "first_name": "Zebulonia", "plan": "pro"},
    "wh-u2": {"anon": "wh-a2", "email": "quillon.wh@example.com", "first_name": "Quillon", "plan": "free"},
    "wh-u3": {"anon": "wh-a3", "email": "forgetta.wh@example.com", "first_name": "Forgetta", "plan": "pro"},
}
ORDERS = {"wh-u1": 3, "wh-u2": 1, "wh-u3": 2}
FORGOTTEN = "wh-u3"


@pytest.fixture(scope="module")
def engine():
    if not DSN:
        pytest.skip("CDP_TEST_POSTGRES is not set")
    made = engine_for(DSN)
    yield made
    made.dispose()


@pytest.fixture
def schema(engine):
    name = f"test_warehouse_{secrets.token_hex(4)}"
    yield name
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("warehouse")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def sent(client):
    """The calls, and an audience of the pro plan with its members in place."""
    source = client.create_source("warehouse-e2e", server_side=True)
    events = []
    for n, (user, p) in enumerate(PEOPLE.items()):
        traits = {"email": p["email"], "first_name": p["first_name"], "plan": p["plan"]}
        events.append(
            event("identify", f"wh-id-{n}", "2024-05-01T10:00:00Z", user_id=user, anonymous_id=p["anon"], traits=traits)
        )
        for k in range(ORDERS[user]):
            events.append(
                event(
                    "track",
                    f"wh-o-{n}-{k}",
                    f"2024-05-01T11:0{k}:00Z",
                    user_id=user,
                    event="Order Completed",
                    properties={"total": 10 + k, "email": p["email"]},
                )
            )
    response = client.ingest(source.write_key, events)
    assert [a.status for a in response.acks] == [collector_pb2.ACK_STATUS_ACCEPTED] * len(events)
    audience = client.segment.create_audience(
        "warehouse pro",
        [trait_condition("plan", "eq", "pro")],
        purpose="analytics",
        metadata=client.platform.metadata("ada", ["admin"]),
    )
    pros = wait_until(
        lambda: {person(client, u) for u, p in PEOPLE.items() if p["plan"] == "pro"}, 30, what="persons resolved"
    )
    wait_until(lambda: set(client.segment.list_members(audience.audience_id)) == pros, 30, what="pro members")
    for user in PEOPLE:
        wait_until(
            lambda user=user: profile(client, user).event_counts.get("Order Completed") == ORDERS[user],
            30,
            what=f"{user}'s orders counted",
        )
    return {"events": len(events), "audience_id": audience.audience_id}


def person(client: Client, user: str) -> str:
    return client.identity.get_person(identifier=ident("user_id", user), timeout=10).person_id


def profile(client: Client, user: str):
    return client.profile.get_profile(identifier=ident("user_id", user), timeout=10)


def cli_env(platform) -> dict[str, str]:
    env = {**os.environ, "CDP_DATA_DIR": str(platform.data_dir)}
    env.update({f"CDP_{s.upper()}_ADDR": platform.address(s) for s in SERVICES})
    return env


def cdp(platform, *args: str) -> subprocess.CompletedProcess:
    done = invoke_cli(Path.cwd(), cli_env(platform), args, None)
    assert done.returncode == 0, done.stderr
    return done


def sync_args(schema: str, key_file: Path, purpose: str = "reporting") -> list[str]:
    return [
        "warehouse",
        "sync",
        "--dsn",
        DSN,
        "--schema",
        schema,
        "--purpose",
        purpose,
        "--mask-key-file",
        str(key_file),
    ]


def rows(engine, schema: str, table: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(f'SELECT * FROM "{schema}"."{table}"')).mappings()]


def all_text(engine, schema: str) -> str:
    """Every row of every table as text, to look for values in."""
    with engine.connect() as conn:
        return "\n".join(
            line
            for table in ALL_TABLES
            for line in conn.execute(sa.text(f'SELECT row_to_json(t)::text FROM "{schema}"."{table}" t')).scalars()
        )


def snapshot(engine, schema: str) -> dict[str, list]:
    """Each data table's rows, in a stable order (comparable across two syncs; decision ids name the
    schema as the destination, so they differ between two schemas)."""
    out = {}
    for table in DATA_TABLES:
        out[table] = sorted(
            repr(sorted((k, v) for k, v in r.items() if k != "decision_id")) for r in rows(engine, schema, table)
        )
    return out


def in_process(platform, engine, schema: str, key: bytes, purpose: str = "reporting", batch: int = 500):
    bundle = load_bundle(REPO_POLICIES)
    decider = EgressDecider(make_engine("embedded", bundle), bundle.revision, f"warehouse:{schema}", purpose)
    connection = connect(platform, "warehouse", ("privacy_officer",))
    store = Warehouse(engine, schema, connection.eventlog, decider, key, batch=batch)
    store.create()
    return store, connection


# Tests -------------------------------------------------------------------------------------------


def test_sql_over_the_warehouse_agrees_with_the_services(client, platform, sent, engine, schema, tmp_path):
    cdp(platform, *sync_args(schema, tmp_path / "mask.key"))

    events = rows(engine, schema, "events")
    assert len(events) == sent["events"] == len(client.read_messages("collector", collector_pb2.EventAccepted))
    with engine.connect() as conn:
        for user in PEOPLE:
            pid = person(client, user)
            counts = dict(
                conn.execute(
                    sa.text(
                        f'SELECT event, count(*) FROM "{schema}".events '
                        "WHERE person_id = :p AND type = 'track' GROUP BY event"
                    ),
                    {"p": pid},
                ).all()
            )
            served_counts = profile(client, user).event_counts
            assert counts == {k: v for k, v in served_counts.items() if not k.startswith("$")}
            plan = conn.execute(
                sa.text(
                    f'SELECT value, source_event_id FROM "{schema}".profile_traits '
                    "WHERE person_id = :p AND name = 'plan'"
                ),
                {"p": pid},
            ).one()
            served = profile(client, user).traits["plan"]
            assert (plan.value, plan.source_event_id) == (PEOPLE[user]["plan"], served.event_id)
        members = set(
            conn.execute(
                sa.text(f'SELECT person_id FROM "{schema}".memberships WHERE audience_id = :a AND exited_at IS NULL'),
                {"a": sent["audience_id"]},
            ).scalars()
        )
    assert members == set(client.segment.list_members(sent["audience_id"]))
    entered = client.read_messages("segment", segment_pb2.MembershipEntered)
    assert len(rows(engine, schema, "membership_events")) == len(entered) + len(
        client.read_messages("segment", segment_pb2.MembershipExited)
    )
    persons = {r["person_id"] for r in rows(engine, schema, "persons") if not r["merged_into"]}
    assert persons == {person(client, u) for u in PEOPLE}
    links = rows(engine, schema, "identity_links")
    assert {("user_id", "wh-u1"), ("anonymous_id", "wh-a1")} <= {(r["a_type"], r["a_value"]) for r in links} | {
        (r["b_type"], r["b_value"]) for r in links
    }

    # Personal data as cdp.egress decides for the warehouse under reporting: nothing personal leaves,
    # not even sealed; the decision the rows relied on is recorded.
    text = all_text(engine, schema)
    for p in PEOPLE.values():
        assert p["email"] not in text and p["first_name"] not in text
    assert "pii:v1:" not in text
    withheld = {f for e in events for f in (e["withheld"] or [])}
    assert {"email", "first_name"} <= withheld
    decisions = {r["decision_id"]: r for r in rows(engine, schema, "_decisions")}
    assert {e["decision_id"] for e in events} <= set(decisions)
    assert all(r["input"]["destination"]["type"] == "warehouse" for r in decisions.values())

    # A second pass writes nothing new.
    before = snapshot(engine, schema)
    again = cdp(platform, *sync_args(schema, tmp_path / "mask.key"))
    assert again.stdout.split() == [f"{u}=0" for u in UPSTREAMS]
    assert snapshot(engine, schema) == before

    # status, and the Parquet files DuckDB reads back with the same counts.
    status = cdp(platform, "warehouse", "status", "--dsn", DSN, "--schema", schema).stdout
    assert f"events             {sent['events']}" in status
    ducks = duckdb.connect()
    cdp(platform, "warehouse", "export", "--dsn", DSN, "--schema", schema, "--parquet", str(tmp_path / "pq"))
    with engine.connect() as conn:
        for table in ALL_TABLES:
            expected = conn.execute(sa.text(f'SELECT count(*) FROM "{schema}"."{table}"')).scalar()
            path = tmp_path / "pq" / f"{table}.parquet"
            assert ducks.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0] == expected, table
    plan_in_duckdb = ducks.execute(
        f"SELECT count(*) FROM '{tmp_path / 'pq' / 'profile_traits.parquet'}' WHERE name = 'plan' AND value = '\"pro\"'"
    ).fetchone()[0]
    assert plan_in_duckdb == 2


def test_a_purpose_that_allows_contact_data_keeps_it_sealed_never_clear(platform, sent, engine, schema, tmp_path):
    cdp(platform, *sync_args(schema, tmp_path / "mask.key", purpose="support"))
    text = all_text(engine, schema)
    assert "pii:v1:" in text  # allowed: the token, decrypted by no one here
    for p in PEOPLE.values():
        assert p["email"] not in text and p["first_name"] not in text


def test_a_sync_failing_after_writing_or_killed_loses_and_duplicates_nothing(platform, sent, engine, schema, tmp_path):
    key = secrets.token_bytes(32)
    whole = f"{schema}_whole"
    try:
        store, connection = in_process(platform, engine, whole, key)
        store.sync_once()
        connection.close()
        expected = snapshot(engine, whole)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{whole}" CASCADE'))

    # Fails inside the third batch's transaction, after its rows are written: that batch is undone.
    store, connection = in_process(platform, engine, schema, key, batch=2)
    batches = []

    def fail_third(upstream: str, position: int) -> None:
        batches.append((upstream, position))
        if len(batches) == 3:
            raise RuntimeError("crash after writing")

    store.after_write = fail_third
    with pytest.raises(RuntimeError):
        store.sync_once()
    committed = {r["upstream"]: r["position"] for r in rows(engine, schema, "_positions")}
    assert committed == {batches[1][0]: batches[1][1]}
    store.after_write = lambda upstream, position: None
    store.sync_once()
    connection.close()
    assert snapshot(engine, schema) == expected

    # A separate process, killed while it follows, then run again: the same rows.
    killed = f"{schema}_killed"
    key_file = tmp_path / "killed.key"
    key_file.write_text(key.hex())
    process = subprocess.Popen(
        [sys.executable, "-m", "cdp.cli.main", *sync_args(killed, key_file), "--batch", "1", "--follow"],
        env=cli_env(platform),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def position_seen():
            try:
                return rows(engine, killed, "_positions")
            except sa.exc.ProgrammingError:  # the schema is not made yet
                return None

        wait_until(position_seen, 60, interval=0.02, what="a first batch committed")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        partial = {r["upstream"]: r["position"] for r in rows(engine, killed, "_positions")}
        print(f"killed at {partial}")
        cdp(platform, *sync_args(killed, key_file))
        assert snapshot(engine, killed) == expected
    finally:
        if process.poll() is None:
            process.kill()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{killed}" CASCADE'))


def test_a_following_sync_writes_new_calls_as_they_come_and_stops_cleanly(
    client, platform, sent, engine, schema, tmp_path
):
    process = subprocess.Popen(
        [sys.executable, "-m", "cdp.cli.main", *sync_args(schema, tmp_path / "mask.key"), "--follow"],
        env=cli_env(platform),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def events_written():
            try:
                return len(rows(engine, schema, "events"))
            except sa.exc.ProgrammingError:  # the schema is not made yet
                return 0

        accepted = len(client.read_messages("collector", collector_pb2.EventAccepted))
        wait_until(lambda: events_written() == accepted, 60, what="the calls so far written")
        source = client.create_source("warehouse-follow", server_side=True)
        late = event("track", "wh-f-1", "2024-05-03T09:00:00Z", user_id="wh-u1", event="Late Call")
        assert client.ingest(source.write_key, [late]).acks[0].status == collector_pb2.ACK_STATUS_ACCEPTED
        wait_until(lambda: events_written() == accepted + 1, 30, what="the new call written")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_merge_gives_the_merged_calls_and_identifiers_to_the_survivor(
    client, platform, sent, engine, schema, tmp_path
):
    source = client.create_source("warehouse-merge", server_side=True)
    key_file = tmp_path / "mask.key"
    first = event("track", "wh-m-1", "2024-05-02T09:00:00Z", anonymous_id="wh-a5", event="Viewed")
    assert client.ingest(source.write_key, [first]).acks[0].status == collector_pb2.ACK_STATUS_ACCEPTED
    lone = wait_until(lambda: client.identity.get_person(identifier=ident("anonymous_id", "wh-a5")).person_id)
    cdp(platform, *sync_args(schema, key_file))
    with engine.connect() as conn:
        of_call = sa.text(f'SELECT person_id FROM "{schema}".events WHERE event_id = :e')
        assert (
            conn.execute(
                of_call, {"e": client.read_messages("collector", collector_pb2.EventAccepted)[-1].event_id}
            ).scalar()
            == lone
        )

    joining = event("identify", "wh-m-2", "2024-05-02T09:01:00Z", user_id="wh-u2", anonymous_id="wh-a5")
    assert client.ingest(source.write_key, [joining]).acks[0].status == collector_pb2.ACK_STATUS_ACCEPTED
    survivor = person(client, "wh-u2")
    wait_until(lambda: client.identity.get_person(identifier=ident("anonymous_id", "wh-a5")).person_id == survivor)
    cdp(platform, *sync_args(schema, key_file))
    with engine.connect() as conn:
        calls = conn.execute(
            sa.text(f'SELECT person_id FROM "{schema}".events WHERE anonymous_id = :a'), {"a": "wh-a5"}
        ).scalars()
        assert set(calls) == {survivor}
        owner = conn.execute(
            sa.text(f"SELECT person_id FROM \"{schema}\".identifiers WHERE type = 'anonymous_id' AND value = 'wh-a5'")
        ).scalar()
        assert owner == survivor


def test_a_forget_reaches_every_table(client, platform, sent, engine, schema, tmp_path):
    key_file = tmp_path / "mask.key"
    cdp(platform, *sync_args(schema, key_file, purpose="support"))
    gone = person(client, FORGOTTEN)
    values = [FORGOTTEN, PEOPLE[FORGOTTEN]["anon"]]
    assert all(v in all_text(engine, schema) for v in values)  # ids are no personal data by name: in clear

    client.identity.forget(identifier=ident("user_id", FORGOTTEN), timeout=30)
    cdp(platform, *sync_args(schema, key_file, purpose="support"))

    text = all_text(engine, schema)
    for v in [*values, PEOPLE[FORGOTTEN]["email"], PEOPLE[FORGOTTEN]["first_name"]]:
        assert v not in text
    with engine.connect() as conn:
        tokens = conn.execute(
            sa.text(
                f'SELECT count(*) FROM "{schema}".events WHERE person_id = :p '
                "AND (properties::text LIKE '%pii:v1:%' OR traits::text LIKE '%pii:v1:%')"
            ),
            {"p": gone},
        ).scalar()
        assert tokens == 0
        assert conn.execute(
            sa.text(f'SELECT forgotten FROM "{schema}".persons WHERE person_id = :p'), {"p": gone}
        ).scalar()
        assert not conn.execute(
            sa.text(
                f'SELECT count(*) FROM "{schema}".profile_traits '
                "WHERE person_id = :p AND value::text LIKE '%pii:v1:%'"
            ),
            {"p": gone},
        ).scalar()
    # The others keep theirs, and their calls still count.
    assert "wh-u1" in text
    assert len(rows(engine, schema, "events")) == len(client.read_messages("collector", collector_pb2.EventAccepted))

    # A warehouse synced from scratch after the forget holds none of it either.
    fresh = f"{schema}_fresh"
    try:
        cdp(platform, *sync_args(fresh, key_file, purpose="support"))
        fresh_text = all_text(engine, fresh)
        assert all(v not in fresh_text for v in values)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{fresh}" CASCADE'))
