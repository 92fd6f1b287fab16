"""A collector that has not yet read identity's suppression list would admit a forgotten person's
calls, so it reports not ready (/readyz) until it has, as a real process with identity away and
then started; an identity outage after that leaves it ready."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from support.platform_fixture import free_ports, log_tails, new_platform


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
