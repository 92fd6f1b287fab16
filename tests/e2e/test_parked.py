"""A poison event injected past the collector, with the services as processes: parked by each
follower of the collector's log, shown by `cdp status` and `cdp parked list`, kept by
`cdp parked retry` while it still fails; the next event still reaches its profile; and the
platform then stops cleanly."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.platform.store import open_store
from support.calls import event, ident
from support.governance import profile_by, run_cli, store_config
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e
TS = "2026-11-30T10:00:00Z"
TRUNCATED = b"\x0a\xff"  # no message parses from it


def test_a_poison_event_is_parked_shown_and_kept_while_the_rest_go_on(tmp_path):
    with running_platform(tmp_path) as platform, Client(platform) as client:
        source = client.create_source()
        assert client.ingest(source.write_key, [event("identify", "m1", TS, user_id="u1")]).accepted == 1
        store = open_store(store_config(platform), "collector")
        try:
            topic = collector_pb2.EventAccepted.DESCRIPTOR.full_name
            store.append([StoredEvent(uuid.uuid4(), 1, topic, TRUNCATED)])
        finally:
            store.close()
        traits = {"plan": "pro"}
        assert client.ingest(source.write_key, [event("identify", "m2", TS, user_id="u2", traits=traits)]).accepted
        profile = wait_until(lambda: profile_by(client, "user_id", "u2"), what="the next event's profile")
        assert profile.traits["plan"].value == '"pro"'
        wait_until(  # identity went on too
            lambda: client.identity.get_person(identifier=ident("user_id", "u2")),
            what="identity past the poison",
        )

        status = run_cli(platform, "status")
        assert status.returncode == 0, status.stderr
        assert "follows collector" in status.stdout and "1 parked" in status.stdout
        listed = run_cli(platform, "parked", "list")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("DecodeError") == 3  # identity, profile and segment follow the collector
        assert "identity <- collector" in listed.stdout and "profile <- collector" in listed.stdout
        assert "segment <- collector" in listed.stdout
        # Asked about one upstream, the services that do not follow it are passed over; a refusal is not.
        of_collector = run_cli(platform, "parked", "list", "--upstream", "collector")
        assert of_collector.returncode == 0 and of_collector.stdout.count("DecodeError") == 3, of_collector.stderr
        not_allowed = run_cli(platform, "parked", "list", "--upstream", "collector", "--role", "analyst")
        assert not_allowed.returncode != 0 and "PERMISSION_DENIED" in not_allowed.stderr
        retried = run_cli(platform, "parked", "retry", "--service", "profile")
        assert retried.returncode == 0, retried.stderr
        assert "profile: 0 applied, 1 still parked" in retried.stdout
        refused = run_cli(platform, "parked", "retry", "--role", "analyst")
        assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr

    # A clean stop logs no traceback.
    for service in ("collector", "identity", "profile", "segment", "activation"):
        text = platform.log_path(service).read_text()
        after_stop = text[text.rindex("stopping") :] if "stopping" in text else ""
        assert after_stop and "Traceback" not in after_stop and "CancelledError" not in after_stop, service
