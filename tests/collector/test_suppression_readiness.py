"""A collector that has not yet read identity's suppression list would admit a forgotten person's
calls, so it reports not ready (/readyz) until it has, as a real process with identity away and
then started; an identity outage after that leaves it ready. A collector restarted while identity is
down drops a forgotten person's calls from its first call, with the list its earlier run kept."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from cdp.api.collector.v1 import collector_pb2
from support.calls import event
from support.governance import ingest_accepted, restart
from support.platform_fixture import Client, free_ports, log_tails, new_platform, wait_until


def readyz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_collector_is_ready_only_once_it_has_read_the_suppression_list(tmp_path):
    platform = new_platform(tmp_path)
    probe_port = free_ports(1)[0]
    platform.probe_ports = {"collector": probe_port}
    try:
        platform.start("collector")  # identity is not running
        platform.wait_healthy(["collector"], timeout=60)
        time.sleep(1.0)
        status, body = readyz(probe_port)
        assert status == 503, body
        assert body["failing"] == ["suppressions"], body
        assert "not been read from identity" in body["checks"]["suppressions"]["detail"]

        platform.start("identity")
        platform.wait_healthy(["identity"], timeout=60)
        deadline = time.monotonic() + 15
        while (answer := readyz(probe_port))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answer[0] == 200, f"{answer}\n{log_tails(platform)}"
        assert answer[1]["checks"]["suppressions"]["ok"] is True

        platform.kill("identity")  # an outage after the first read: the list it has still holds
        time.sleep(2.0)
        assert readyz(probe_port)[0] == 200
    finally:
        platform.stop()


FORGOTTEN = "user-suppressed-5c1e"


def test_a_collector_restarted_while_identity_is_down_drops_a_forgotten_persons_calls(tmp_path):
    platform = new_platform(tmp_path)
    probe_port = free_ports(1)[0]
    platform.probe_ports = {"collector": probe_port}
    try:
        platform.start("identity")
        platform.start("collector")
        platform.wait_healthy(["identity", "collector"], timeout=60)
        with Client(platform) as client:
            source = client.create_source("web", server_side=True)
            ingest_accepted(client, source, [event("identify", "sp-1", "2024-05-02T09:00:00Z", user_id=FORGOTTEN)])
            officer = client.as_user("dpo@example.com", ["privacy_officer"])
            wait_until(
                lambda: officer.identity.forget(identifier=("user_id", FORGOTTEN), timeout=10).keys_destroyed or None,
                what="identity forgetting the person",
            )
            probes = iter(range(1000))

            def dropped() -> bool | None:
                message_id = f"sp-probe-{next(probes)}"
                ingest_accepted(
                    client,
                    source,
                    [event("track", message_id, "2024-05-02T09:01:00Z", user_id=FORGOTTEN, event="Seen")],
                )
                return message_id in suppressed(client) or None

            wait_until(dropped, what="the collector dropping the forgotten person's calls")

            platform.kill("identity")
            restart(platform, "collector")
            client.reconnect("collector")
            ingest_accepted(
                client, source, [event("track", "sp-after", "2024-05-02T09:02:00Z", user_id=FORGOTTEN, event="Seen")]
            )
            accepted = [m.event.message_id for m in client.read_messages("collector", collector_pb2.EventAccepted)]
            assert "sp-after" in suppressed(client), f"accepted: {'sp-after' in accepted}\n{log_tails(platform)}"
            assert "sp-after" not in accepted
        status, body = readyz(probe_port)
        assert status == 200 and "earlier run" in body["checks"]["suppressions"]["detail"], body
    finally:
        platform.stop()


def suppressed(client) -> list[str]:
    return [m.message_id for m in client.read_messages("collector", collector_pb2.EventSuppressed)]
