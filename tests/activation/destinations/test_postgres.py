"""The PostgreSQL table kind against the real server: a schema of the test's own, dropped after."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.platform.errors import InvalidArgument
from conftest import drop_schemas, postgres_dsn


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


pytestmark = pytest.mark.postgres


@pytest.fixture
def table(unique):
    dsn = postgres_dsn()
    yield dsn, unique
    drop_schemas(dsn, unique)


def rows(dsn: str, schema: str) -> dict:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            f'SELECT person_key, traits, delivery_id, changed_at, written_at FROM "{schema}".members ORDER BY 1'
        ).fetchall()
    return {r[0]: r[1:] for r in found}


def send(dsn, schema, batches, **config):
    async def go():
        destination = open_local(
            "postgres", {"schema": schema, "table": "members", "create_table": True, **config}, {"dsn": dsn}
        )
        try:
            return [await destination.send(batch) for batch in batches]
        finally:
            await destination.close()

    return asyncio.run(go())


def test_upsert_entered_exited_and_delete_keep_one_row_a_person(table, message):
    dsn, schema = table
    first = [
        message("p1", "entered", {"plan": "pro"}, timestamp="2026-12-01T10:00:00+00:00"),
        message("p2", "upsert", {"plan": "free", "seats": 2}, timestamp="2026-12-01T10:00:00+00:00"),
        message("p3", "entered", {"plan": "team"}, timestamp="2026-12-01T10:00:00+00:00"),
    ]
    second = [
        message("p1", "upsert", {"plan": "enterprise"}, timestamp="2026-12-01T11:00:00+00:00"),
        message("p2", "exited", {}, timestamp="2026-12-01T11:00:00+00:00"),
        message("p3", "delete", {}, timestamp="2026-12-01T11:00:00+00:00"),
        message("p4", "upsert", {"name": "Zoë", "tags": ["a", "b"]}, timestamp="2026-12-01T11:00:00+00:00"),
    ]
    outcomes = send(dsn, schema, [first, second])
    assert all(o.ok for batch in outcomes for o in batch)
    found = rows(dsn, schema)
    assert sorted(found) == ["p1", "p4"]
    assert found["p1"][0] == {"plan": "enterprise"} and found["p1"][1] == second[0].delivery_id
    assert found["p4"][0] == {"name": "Zoë", "tags": ["a", "b"]}


def test_resending_a_delivery_or_an_older_one_has_no_further_effect(table, message):
    dsn, schema = table
    old = message("p1", "upsert", {"plan": "free"}, timestamp="2026-12-01T10:00:00+00:00")
    new = message("p1", "upsert", {"plan": "pro"}, timestamp="2026-12-01T11:00:00+00:00")
    (first,) = send(dsn, schema, [[new]])
    before = rows(dsn, schema)
    again, older = send(dsn, schema, [[new], [old]])
    assert first[0].extra["applied"] is True
    assert again[0].ok and again[0].extra["applied"] is False
    assert older[0].ok and older[0].extra["applied"] is False
    assert rows(dsn, schema) == before  # written_at too: the row was not touched


def test_a_batch_is_one_transaction_and_a_bad_message_fails_alone(table, message):
    dsn, schema = table
    send(dsn, schema, [[message("p0")]])
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A rule of the receiving team's: seats at most 10. A row breaking it fails; the others land.
        conn.execute(f"""ALTER TABLE "{schema}".members ADD CHECK ((traits->>'seats')::int <= 10)""")
    batch = [
        message("p1", record={"seats": 3}),
        message("p2", record={"seats": 99}),
        message("p3", record={"seats": 4}),
    ]
    bad_time = message("p4", timestamp="yesterday")
    (outcomes,) = send(dsn, schema, [[*batch, bad_time]])
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert not outcomes[1].retryable and "CheckViolation" in outcomes[1].error
    assert outcomes[3].error.startswith("timestamp:") and not outcomes[3].retryable
    assert sorted(rows(dsn, schema)) == ["p0", "p1", "p3"]


def test_concurrent_sends_take_turns_on_the_connection(table, message):
    dsn, schema = table

    async def go():
        destination = open_local("postgres", {"schema": schema, "table": "members", "create_table": True}, {"dsn": dsn})
        try:
            batches = [[message(f"p{b}-{i}") for i in range(20)] for b in range(5)]
            return await asyncio.gather(*(destination.send(batch) for batch in batches))
        finally:
            await destination.close()

    results = asyncio.run(go())
    assert all(o.ok for outcomes in results for o in outcomes)
    assert len(rows(dsn, schema)) == 100


def test_a_server_that_does_not_answer_is_a_retryable_outcome(message):
    async def go():
        destination = open_local(
            "postgres", {"table": "members", "connect_timeout_s": 1}, {"dsn": "postgresql://postgres@127.0.0.1:1/test"}
        )
        try:
            return await destination.send([message(), message()])
        finally:
            await destination.close()

    outcomes = asyncio.run(go())
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True), (False, True)]
    assert all("OperationalError" in o.error for o in outcomes)


def test_the_table_is_created_only_when_asked(table, message):
    dsn, schema = table
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    (outcomes,) = send(dsn, schema, [[message()]], create_table=False)
    assert not outcomes[0].ok and not outcomes[0].retryable and "UndefinedTable" in outcomes[0].error


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"table": "Members"}, "config.table: must be a lower-case SQL name"),
        ({"table": "m; drop table x"}, "config.table: must be a lower-case SQL name"),
        ({"table": "m", "schema": "a-b"}, "config.schema: must be a lower-case SQL name"),
        ({"table": "m", "key_column": "traits"}, "config.key_column: must not be"),
        ({"table": "m", "dsn": "host='unterminated"}, "config.dsn: is not a PostgreSQL connection string"),
        ({}, "config.table: is required"),
        ({"table": "m", "create_table": "yes"}, "config.create_table: must be true or false"),
    ],
)
def test_bad_configurations_name_the_field(config, error):
    with pytest.raises(InvalidArgument) as refused:
        check_config("postgres", {"dsn": "postgresql://db.example.com/cdp", **config})
    assert str(refused.value).startswith(error)


def test_the_traits_column_is_jsonb(table, message):
    dsn, schema = table
    send(dsn, schema, [[message("p1", record={"n": 1})]])
    with psycopg.connect(dsn) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s AND column_name = 'traits'",
            (schema,),
        ).fetchone()
    assert kind == ("jsonb",)
    assert json.dumps(rows(dsn, schema)["p1"][0]) == '{"n": 1}'
