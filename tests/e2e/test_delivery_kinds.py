"""End to end: audience changes reach real destination kinds other than webhooks, made with the
CLI (a PostgreSQL table, a Redis stream, both on loopback: the local profile); their credentials
are never shown back; four eyes on a sync of personal data; the delivery metrics move.

Real processes, the real PostgreSQL (database `test`) and Redis on this machine.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
import uuid

import psycopg
import pytest
import redis

from cdp.api.segment.v1 import segment_pb2
from support.aiohttp_receiver import Receiver
from support.calls import event, trait_condition
from support.governance import profile_by, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379"
CALLS = itertools.count()
CONSENT = {"consent": {"categoryPreferences": {"analytics": True, "marketing": True}}}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("delivery-kinds")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


def cdp(platform, *args: str, ok: bool = True, subject: str = "", role: str = "") -> str:
    who = ["--subject", subject, "--role", role] if subject else []
    done = run_cli(platform, *args, *who)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done.stdout + done.stderr


def audience(client: Client, name: str, plan: str) -> segment_pb2.Audience:
    marketer = client.platform.metadata("mia@example.com", ["marketer"])
    conditions = [trait_condition("plan", "eq", plan)]
    return client.segment.create_audience(name, conditions, purpose="marketing", metadata=marketer, timeout=30)


def identify(message_id: str, user: str, **traits):
    """An identify, each later than the one before (a trait's newest value wins)."""
    n = next(CALLS)
    ts = f"2024-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z"
    return event("identify", message_id, ts, user_id=user, traits=traits, context=CONSENT)


def test_a_membership_sync_reaches_a_postgres_table_and_a_redis_stream(platform, client):
    suffix = uuid.uuid4().hex[:8]
    schema, stream = f"test_actwire_{suffix}", f"test_actwire_{suffix}"
    members = audience(client, f"Kinds {suffix}", f"kinds-{suffix}")
    password_dsn = f"{POSTGRES}?application_name=cdp-{suffix}&password=not-shown-{suffix}"
    config = json.dumps({"dsn": password_dsn, "schema": schema, "table": "members", "create_table": True})
    table = cdp(platform, "destination", "create", "crm table", "--kind", "postgres", "--config", config,
                "--purpose", "analytics", "--audience", members.audience_id)  # fmt: skip
    assert "postgres" in table and f"not-shown-{suffix}" not in table and "secrets set: dsn" in table
    queue = cdp(platform, "destination", "create", "crm stream", "--kind", "redis", "--url", REDIS,
                "--config", json.dumps({"stream": stream}), "--purpose", "analytics",
                "--audience", members.audience_id)  # fmt: skip
    table_id, stream_id = table.split()[0], queue.split()[0]
    # Analytics may receive nothing personal: its syncs need no approval.
    assert not client.activation.list_pending_syncs(timeout=10)

    source = client.create_source(f"kinds-{suffix}", server_side=True)
    client.ingest(source.write_key, [identify(f"k1-{suffix}", f"ann-{suffix}", plan=f"kinds-{suffix}")])
    client.ingest(source.write_key, [identify(f"k2-{suffix}", f"bob-{suffix}", plan=f"kinds-{suffix}")])
    connection = psycopg.connect(POSTGRES, autocommit=True)
    store = redis.Redis.from_url(REDIS)
    try:

        def rows():
            try:
                return connection.execute(f"SELECT person_key, traits FROM {schema}.members").fetchall()
            except psycopg.errors.UndefinedTable:
                return []

        wait_until(lambda: len(rows()) == 2, timeout=30, what="both members' rows")
        assert all(traits == {"plan": f"kinds-{suffix}"} for _, traits in rows())
        wait_until(lambda: store.xlen(stream) == 2, timeout=30, what="both members' entries")

        # Bob leaves: his row is deleted, the stream says he exited.
        client.ingest(source.write_key, [identify(f"k3-{suffix}", f"bob-{suffix}", plan="other")])
        wait_until(lambda: len(rows()) == 1, timeout=30, what="bob's row deleted")
        wait_until(lambda: store.xlen(stream) == 3, timeout=30, what="bob's exit")
        last = store.xrange(stream)[-1][1]
        assert last[b"action"] == b"exited" and json.loads(last[b"body"])["type"] == "audience.exited"
        ann = profile_by(client, "user_id", f"ann-{suffix}").person_id
        assert [key for key, _ in rows()] == [ann]
    finally:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.close()
        store.delete(stream)
        store.close()

    # The credentials are never shown back, by the API or the CLI.
    for found in (
        client.activation.get_destination(table_id, timeout=10),
        *client.activation.list_destinations(timeout=10),
    ):
        assert f"not-shown-{suffix}" not in str(found)
    for args in (("destination", "show", table_id), ("destination", "list")):
        assert f"not-shown-{suffix}" not in cdp(platform, *args)
    assert stream_id in cdp(platform, "destination", "list")


def test_a_sync_of_personal_data_waits_for_another_persons_approval(platform, client):
    suffix = uuid.uuid4().hex[:8]
    members = audience(client, f"Approval {suffix}", f"approval-{suffix}")
    source = client.create_source(f"approval-{suffix}", server_side=True)
    with Receiver() as hook:
        made = cdp(platform, "destination", "create", "crm hook", "--url", hook.url(), "--purpose", "marketing")
        destination_id = made.split()[0]
        author, officer = "ops@example.com", "pia@example.com"
        sync = cdp(platform, "sync", "create", destination_id, members.audience_id, "--mode", "upsert",
                   "--field", "email", "--field", "plan", subject=author, role="admin")  # fmt: skip
        sync_id = sync.split()[0]
        assert "approval pending" in sync
        assert sync_id in cdp(platform, "sync", "pending", subject="mia@example.com", role="marketer")
        client.ingest(source.write_key, [identify(f"a1-{suffix}", f"cy-{suffix}", plan=f"approval-{suffix}",
                                                  email=f"cy-{suffix}@example.com")])  # fmt: skip
        time.sleep(3)
        assert hook.got() == [], "nothing is sent while pending"

        refused = cdp(platform, "sync", "approve", sync_id, ok=False, subject=author, role="admin")
        assert "may not approve a sync they wrote" in refused
        assert hook.got() == []
        approved = cdp(platform, "sync", "approve", sync_id, subject=officer, role="privacy_officer")
        assert f"approval approved by {officer}" in approved
        [record] = hook.wait(lambda got: len(got) == 1, timeout=30, what="the record after approval")
        assert record.body["traits"] == {"email": f"cy-{suffix}@example.com", "plan": f"approval-{suffix}"}

        # A new mapping resets it: pending, and a reject keeps it from sending.
        edited = cdp(platform, "sync", "edit", sync_id, "--field", "email", subject=author, role="admin")
        assert "approval pending" in edited
        rejected = cdp(platform, "sync", "reject", sync_id, "--reason", "email only is not agreed",
                       subject=officer, role="privacy_officer")  # fmt: skip
        assert "approval rejected" in rejected and "email only is not agreed" in rejected
        assert sync_id not in cdp(platform, "sync", "pending")

    def scrape() -> str:
        url = f"http://127.0.0.1:{platform.probe_ports['activation']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    delivered = f'cdp_deliveries_total{{destination="{destination_id}",outcome="delivered",service="activation"}} 1.0'
    assert delivered in scrape()


def test_a_dead_letter_moves_the_metrics(platform, client):
    suffix = uuid.uuid4().hex[:8]
    members = audience(client, f"Dead {suffix}", f"dead-{suffix}")
    source = client.create_source(f"dead-{suffix}", server_side=True)
    with Receiver() as hook:
        hook.status = 400  # refused: dead-lettered at once
        made = cdp(platform, "destination", "create", "refusing hook", "--url", hook.url(), "--purpose", "analytics",
                   "--audience", members.audience_id, "--retry-window", "60")  # fmt: skip
        destination_id = made.split()[0]
        client.ingest(source.write_key, [identify(f"d1-{suffix}", f"dan-{suffix}", plan=f"dead-{suffix}")])

        def scraped() -> str:
            url = f"http://127.0.0.1:{platform.probe_ports['activation']}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()

        labels = f'destination="{destination_id}"'
        wait_until(
            lambda: f'cdp_dead_letters{{{labels},service="activation"}} 1.0' in scraped(),
            timeout=30,
            what="the dead-letter gauge",
        )
        text = scraped()
        assert f'cdp_deliveries_total{{{labels},outcome="dead_lettered",service="activation"}} 1.0' in text
        assert f'cdp_delivery_retry_queue{{{labels},service="activation"}} 0.0' in text
