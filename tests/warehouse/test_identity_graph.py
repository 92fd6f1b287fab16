"""The warehouse's identity graph from identity's published messages, on a real PostgreSQL: a
person is a component of active links named by its oldest identifier, across batches, retractions
and a forget (the messages are made here; the end-to-end tests take them from identity itself)."""

from __future__ import annotations

import os
import secrets
import uuid

import pytest
import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.cli.warehouse import engine_for
from cdp.platform.config import REPO_POLICIES
from cdp.platform.policy.backends import make_engine
from cdp.platform.policy.bundle import load_bundle
from cdp.warehouse.application import EgressDecider, Warehouse

pytestmark = pytest.mark.postgres
DSN = os.environ.get("CDP_TEST_POSTGRES", "")


class Log:
    """A published log held in memory: what the warehouse reads through cdp.client."""

    def __init__(self):
        self.notifications: list[eventlog_pb2.Notification] = []

    def publish(self, message) -> None:
        n = len(self.notifications) + 1
        self.notifications.append(
            eventlog_pb2.Notification(
                id=n,
                topic=message.DESCRIPTOR.full_name,
                originator_id=str(uuid.uuid4()),
                originator_version=1,
                payload=message.SerializeToString(),
            )
        )

    def read(self, after=0, limit=0, wait_ms=0, topics=(), **options):
        found = [n for n in self.notifications if n.id > after and (not topics or n.topic in topics)][:limit]
        return eventlog_pb2.ReadResponse(notifications=found, head=len(self.notifications))


def own(key: str) -> str:
    return f"person-of-{key}"


def seen(type_: str, value: str) -> identity_pb2.IdentifierSeen:
    return identity_pb2.IdentifierSeen(
        identifier=identity_pb2.Identifier(type=type_, value=value), person_id=own(value)
    )


def link(edge: str, a: tuple[str, str], b: tuple[str, str]) -> identity_pb2.Evidence:
    return identity_pb2.Evidence(
        edge_id=edge,
        a=identity_pb2.Identifier(type=a[0], value=a[1]),
        b=identity_pb2.Identifier(type=b[0], value=b[1]),
        rule="seen-together",
        active=True,
    )


@pytest.fixture
def warehouse():
    if not DSN:
        pytest.skip("CDP_TEST_POSTGRES is not set")
    engine = engine_for(DSN)
    schema = f"test_warehouse_graph_{secrets.token_hex(4)}"
    logs = {s: Log() for s in ("identity", "collector", "profile", "segment")}
    bundle = load_bundle(REPO_POLICIES)
    decider = EgressDecider(make_engine("embedded", bundle), bundle.revision, "warehouse:test", "reporting")
    store = Warehouse(engine, schema, logs.__getitem__, decider, secrets.token_bytes(32))
    store.create()
    try:
        yield store, logs
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def persons(store: Warehouse) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.text(f'SELECT value, person_id FROM "{store.schema}".identifiers')).all())


def test_a_person_is_named_by_the_oldest_identifier_of_its_component_across_batches(warehouse):
    store, logs = warehouse
    identity = logs["identity"]
    identity.publish(
        identity_pb2.CallEvidenced(
            seen=[seen("anonymous_id", "a1"), seen("user_id", "u1")],
            links=[link("e1", ("anonymous_id", "a1"), ("user_id", "u1"))],
        )
    )
    store.sync_once()
    assert persons(store) == {"a1": own("a1"), "u1": own("a1")}

    # A later call links a new email to u1, not to a1: the person is still a1's.
    identity.publish(
        identity_pb2.CallEvidenced(seen=[seen("crm_id", "n1")], links=[link("e2", ("user_id", "u1"), ("crm_id", "n1"))])
    )
    logs["collector"].publish(
        collector_pb2.EventAccepted(
            event_id="c1", source_id="s", event=event_pb2.Event(type="track", event="Viewed", user_id="u1")
        )
    )
    store.sync_once()
    assert persons(store) == {"a1": own("a1"), "u1": own("a1"), "n1": own("a1")}
    with store.engine.connect() as conn:
        assert conn.execute(sa.text(f'SELECT person_id FROM "{store.schema}".events')).scalar() == own("a1")

    # Retracting a1-u1 splits it: u1 and n1 are u1's person now, and so is the call.
    identity.publish(identity_pb2.LinkRetracted(edge_id="e1", reason="test"))
    store.sync_once()
    assert persons(store) == {"a1": own("a1"), "u1": own("u1"), "n1": own("u1")}
    with store.engine.connect() as conn:
        assert conn.execute(sa.text(f'SELECT person_id FROM "{store.schema}".events')).scalar() == own("u1")

    # Forgetting u1's person takes its identifiers, link ends and the call's ids; a1 stays.
    identity.publish(identity_pb2.SubjectForgotten(person_id=own("u1")))
    store.sync_once()
    assert persons(store) == {"a1": own("a1")}
    with store.engine.connect() as conn:
        text = "\n".join(
            conn.execute(
                sa.text(
                    f'SELECT row_to_json(t)::text FROM "{store.schema}".identity_links t UNION ALL '
                    f'SELECT row_to_json(e)::text FROM "{store.schema}".events e'
                )
            ).scalars()
        )
    assert '"u1"' not in text and '"n1"' not in text and '"a1"' in text
