"""Forgetting an identifier no person has: every call of it was quarantined by a tracking plan,
so identity never saw it, yet the collector keeps those calls sealed under its subject. `cdp forget`
destroys that key and suppresses the identifier (it answered NOT_FOUND and left the values readable).
"""

from __future__ import annotations

import json
import time

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.collector.suppression import FRESH_WITHIN_S
from cdp.platform.personal import subject_of
from cdp.platform.sealed import tokens_in
from cdp.platform.vault import Vault, load_master_key, open_key_table
from support.calls import event, ident
from support.governance import ingest_accepted, run_cli, store_config
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e

USER, EMAIL = "u-held-only-51c2", "held-only-51c2@example.com"
PLAN = {"events": {"Order Completed": {"type": "object", "properties": {"total": {"type": "number"}}}}}


def test_forget_reaches_calls_only_the_quarantine_holds(platform, client):
    client.collector.publish_plan("shop-held", PLAN, timeout=10)
    source = client.create_source("held", server_side=True)
    client.collector.assign_plan(source.name, "shop-held", "quarantine", None, 0, timeout=10)
    broken = {"total": "not-a-number", "email": EMAIL}
    client.ingest(
        source.write_key,
        [event("track", "held-1", "2024-05-01T10:00:00Z", user_id=USER, event="Order Completed", properties=broken)],
    )
    (held,) = wait_until(lambda: client.collector.list_quarantine(source.name, timeout=10), what="the quarantined call")
    sealed = list(tokens_in(json.loads(held.event.properties), "properties"))
    assert sealed and EMAIL not in held.event.properties
    config = store_config(platform)
    vault = Vault(open_key_table(config), load_master_key(config), cache_ttl=0)
    try:
        opened = vault.decrypt_many((subject_of(USER, ""), held.event.type, f, t) for f, t in sealed)
        assert EMAIL in json.dumps(opened)  # readable while the key lives

        officer = ("--subject", "dpo@example.com", "--role", "privacy_officer")
        done = run_cli(platform, "forget", "--user-id", USER, *officer)
        forgotten_at = time.monotonic()
        assert done.returncode == 0, done.stderr + done.stdout
        assert "no person has it" in done.stdout and "1 key(s) destroyed" in done.stdout, done.stdout
        gone = vault.decrypt_many((subject_of(USER, ""), held.event.type, f, t) for f, t in sealed)
        assert all(text is None for text in gone), gone
    finally:
        vault.table.close()

    # Their next call is dropped at the collector, as a forgotten person's would be.
    time.sleep(max(0.0, forgotten_at + FRESH_WITHIN_S - time.monotonic()))
    ingest_accepted(client, source, [event("identify", "held-2", "2024-05-02T09:00:00Z", user_id=USER)])
    dropped = client.read_messages("collector", collector_pb2.EventSuppressed)
    assert [(m.message_id, m.identifier_type) for m in dropped] == [("held-2", "user_id")]
    assert client.identity.resolve([ident("user_id", USER)], timeout=10).resolutions[0].person_id == ""
