"""A service that was away for a while is reached again within about a second of its return.

gRPC's default reconnect backoff grows to minutes (1 s, 1.6 s, 2.6 s, ... 120 s): after a peer was
down for several seconds, its callers would wait for the next scheduled attempt before they noticed
it was back. Here the collector reads identity's suppressed identifiers; a forget made just after
identity's return must close the door as quickly as it does when identity never went away.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from cdp.api.collector.v1 import collector_pb2
from support.calls import event, ident
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

AWAY_S = 5.0  # long enough for the default backoff to schedule its next attempt seconds after the return


def test_a_returning_peer_is_reached_within_about_a_second(tmp_path):
    with running_platform(tmp_path) as platform, Client(platform) as client:
        source = client.create_source()
        client.ingest(source.write_key, [event("identify", "r-1", "2024-05-01T09:00:00Z", user_id="rhea")])
        wait_until(
            lambda: client.identity.get_person(identifier=ident("user_id", "rhea"), timeout=10), what="rhea known"
        )

        process = platform.processes.pop("identity")
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        time.sleep(AWAY_S)  # the collector keeps trying to read identity's log meanwhile
        platform.start("identity")
        platform.wait_healthy(["identity"], 30)
        client.reconnect("identity")

        officer = client.as_user("olga@corp.io", ["privacy_officer"])
        assert officer.identity.forget(identifier=("user_id", "rhea"), timeout=10).suppressed == 1
        forgotten_at = time.monotonic()
        probes = iter(range(1000))

        def dropped():
            message_id = f"r-probe-{next(probes)}"
            client.ingest(source.write_key, [event("identify", message_id, "2024-05-01T10:00:00Z", user_id="rhea")])
            suppressed = client.read_messages("collector", collector_pb2.EventSuppressed)
            return any(m.message_id == message_id for m in suppressed) or None

        wait_until(dropped, timeout=10, interval=0.05, what="rhea's next call dropped")
        assert time.monotonic() - forgotten_at < 1.5, "the collector noticed identity's return late"
