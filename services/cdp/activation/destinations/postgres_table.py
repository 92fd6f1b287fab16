"""A PostgreSQL table kept in step with an audience (reverse ETL): one row per person, by key.

The row is the person's key, the record as one jsonb `traits` column (so that a sync's mapping can
change without a migration), and what wrote it: `delivery_id`, `changed_at` (when the change
happened) and `written_at`. `upsert` and `entered` insert or update the row, `delete` and `exited`
delete it. A row only moves forward: a message is applied when its delivery id differs from the
row's and it is not older than the row's change, so re-sending a delivery (after a lost answer)
or an older one has no further effect. One send() is one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cdp.activation.destinations import fields
from cdp.activation.destinations.guard import hosts_of, refuse_local
from cdp.activation.destinations.port import Message, Outcome

KIND = "postgres"
SECRET_FIELDS = ("dsn",)
FIELDS = ("schema", "table", "key_column", "create_table", "connect_timeout_s", *SECRET_FIELDS)
UPSERTS = ("upsert", "entered")
DELETES = ("delete", "exited")
Statement = tuple[Any, tuple[Any, ...]]  # SQL, parameters


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    dsn = fields.required_text(config, "dsn")
    import psycopg.conninfo

    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise fields.invalid("dsn", "is not a PostgreSQL connection string (postgresql://host/db)") from None
    fields.sql_name(config, "schema", "public")
    fields.sql_name(config, "table")
    key = fields.sql_name(config, "key_column", "person_key")
    if key in ("traits", "delivery_id", "changed_at", "written_at"):
        raise fields.invalid("key_column", "must not be traits, delivery_id, changed_at or written_at")
    fields.flag(config, "create_table", False)
    fields.number(config, "connect_timeout_s", 10.0, 1.0, 120.0)


class PostgresTableDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        from psycopg import sql

        merged = {**config, **secrets}
        check_config(merged)
        self.local = local
        self._dsn = str(merged["dsn"])
        self._timeout = fields.number(merged, "connect_timeout_s", 10.0, 1.0, 120.0)
        self._create = fields.flag(merged, "create_table", False)
        schema = sql.Identifier(fields.sql_name(merged, "schema", "public"))
        table = sql.Identifier(fields.sql_name(merged, "schema", "public"), fields.sql_name(merged, "table"))
        key = sql.Identifier(fields.sql_name(merged, "key_column", "person_key"))
        self._create_sql = [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ({} text PRIMARY KEY, traits jsonb NOT NULL, delivery_id text NOT NULL,"
                " changed_at timestamptz NOT NULL, written_at timestamptz NOT NULL DEFAULT now())"
            ).format(table, key),
        ]
        self._upsert = sql.SQL(
            "INSERT INTO {t} AS row ({k}, traits, delivery_id, changed_at) VALUES (%s, %s::jsonb, %s, %s)"
            " ON CONFLICT ({k}) DO UPDATE SET traits = excluded.traits, delivery_id = excluded.delivery_id,"
            " changed_at = excluded.changed_at, written_at = now()"
            " WHERE row.delivery_id <> excluded.delivery_id AND row.changed_at <= excluded.changed_at"
        ).format(t=table, k=key)
        self._delete = sql.SQL("DELETE FROM {t} WHERE {k} = %s AND delivery_id <> %s AND changed_at <= %s").format(
            t=table, k=key
        )
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one connection: one send() at a time holds its transaction

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            if not self.local:
                for _, host in hosts_of(KIND, {"dsn": self._dsn}):
                    await asyncio.to_thread(refuse_local, host)
            self._conn = await psycopg.AsyncConnection.connect(self._dsn, connect_timeout=int(self._timeout))
            if self._create:
                async with self._conn.transaction():
                    for statement in self._create_sql:
                        await self._conn.execute(statement)
        return self._conn

    def _statement(self, message: Message) -> Statement | Outcome:
        """The SQL a message runs, or the Outcome refusing it (never worth retrying)."""
        try:
            changed = datetime.fromisoformat(message.timestamp)
        except ValueError:
            return Outcome(False, error="timestamp: not ISO 8601", retryable=False)
        if changed.tzinfo is None:
            return Outcome(False, error="timestamp: needs a UTC offset", retryable=False)
        if message.action in UPSERTS:
            try:
                traits = json.dumps(message.record, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError):
                return Outcome(False, error="record: not JSON", retryable=False)
            return self._upsert, (message.person_key, traits, message.delivery_id, changed)
        if message.action in DELETES:
            return self._delete, (message.person_key, message.delivery_id, changed)
        return Outcome(
            False, error=f"action: {message.action!r} is not one of upsert, delete, entered, exited", retryable=False
        )

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        async with self._lock:
            return await self._send(messages)

    async def _send(self, messages: Sequence[Message]) -> list[Outcome]:
        import psycopg

        started = time.perf_counter()
        planned = [self._statement(m) for m in messages]
        runnable = [(i, p) for i, p in enumerate(planned) if not isinstance(p, Outcome)]
        results: list[Outcome | None] = [p if isinstance(p, Outcome) else None for p in planned]
        try:
            conn = await self._connection()
            try:
                applied = await self._apply(conn, [p for _, p in runnable])
            except psycopg.Error as error:
                if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
                    raise
                # A statement failed: each again in a savepoint of its own, to tell which.
                applied = await self._apply(conn, [p for _, p in runnable], one_by_one=True)
        except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as failure:
            await self._drop()
            reason = f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"[:300]
            ms = (time.perf_counter() - started) * 1000
            return [r or Outcome(False, error=reason, latency_ms=ms) for r in results]
        ms = (time.perf_counter() - started) * 1000
        for (i, _), done in zip(runnable, applied, strict=True):
            results[i] = done if isinstance(done, Outcome) else Outcome(True, latency_ms=ms, extra={"applied": done})
        return [r if r is not None else Outcome(False, error="not sent") for r in results]

    async def _apply(
        self, conn: Any, statements: list[tuple[Any, tuple[Any, ...]]], one_by_one: bool = False
    ) -> list[Any]:
        import psycopg

        done: list[Any] = []
        async with conn.transaction():
            for statement, params in statements:
                if not one_by_one:
                    cursor = await conn.execute(statement, params)
                    done.append(cursor.rowcount == 1)
                    continue
                try:
                    async with conn.transaction():  # a savepoint
                        cursor = await conn.execute(statement, params)
                        done.append(cursor.rowcount == 1)
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    raise
                except psycopg.Error as error:
                    rule = type(error).__name__
                    done.append(Outcome(False, error=f"PostgreSQL refused it: {rule}", retryable=False))
        return done

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        await self._drop()
