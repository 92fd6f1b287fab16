"""Operating the platform: each service's /metrics moves with what it does, and its logs are JSON
lines that never hold the personal data sent to it.

Real processes on SQLite files; metrics scraped over HTTP from each service's probe port.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import urllib.request

import pytest

from cdp.client import PermissionDenied
from cdp.platform.config import SERVICES
from support.calls import event, ident
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

INGEST = "/cdp.collector.v1.CollectorService/Ingest"
PERSONAL = ("olga.obs@example.com", "+44 20 7946 0958", "Olga", "Obsidian Lane 7", "ogl-secret-param@example.org")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("observability")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


def scrape(platform, service: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a service's /metrics: (name, labels) -> value."""
    url = f"http://127.0.0.1:{platform.probe_ports[service]}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in samples.items() if n == name and wanted <= set(pairs))


def calls(source_suffix: str, n: int):
    return [
        event(
            "identify",
            f"obs-{source_suffix}-{i}",
            "2026-03-01T10:00:00Z",
            user_id=f"obs-user-{source_suffix}-{i}",
            traits={"email": PERSONAL[0], "phone": PERSONAL[1], "first_name": PERSONAL[2], "street": PERSONAL[3]},
            context={"page": {"url": f"https://shop.example.com/?ref=mail&contact={PERSONAL[4]}"}},
        )
        for i in range(n)
    ]


def test_metrics_move_with_calls_events_decisions_and_following(platform, client):
    source = client.create_source("obs-metrics", server_side=True)
    before = scrape(platform, "collector")
    response = client.ingest(source.write_key, [*calls("a", 5), event("bogus", "obs-bad", "2026-03-01T10:00:00Z")])
    assert response.accepted == 5 and response.rejected == 1
    client.ingest(source.write_key, calls("a", 2))  # sent again: duplicates
    with pytest.raises(PermissionDenied):
        client.collector.create_source("nope", metadata=client.platform.metadata("al@example.com", ["analyst"]))
    create = "/cdp.collector.v1.CollectorService/CreateSource"
    # A refused call's status reaches the caller before the server has counted it (gRPC sends an
    # abort's status first): the count is there a moment later, and then nothing else moves.
    after = wait_until(
        lambda: (
            (s := scrape(platform, "collector"))
            and value(s, "cdp_rpc_requests_total", method=create, code="PERMISSION_DENIED")
            > value(before, "cdp_rpc_requests_total", method=create, code="PERMISSION_DENIED")
            and s
        ),
        timeout=5,
        what="the refused call counted",
    )

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cdp_events_total", source="obs-metrics", outcome="accepted") == 5
    assert moved("cdp_events_total", source="obs-metrics", outcome="rejected") == 1
    assert moved("cdp_events_total", source="obs-metrics", outcome="duplicate") == 2
    assert moved("cdp_rpc_requests_total", service="collector", method=INGEST, code="OK") == 2
    assert moved("cdp_rpc_requests_total", method=create, code="PERMISSION_DENIED") == 1
    assert moved("cdp_rpc_duration_seconds_count", method=INGEST) == 2
    assert moved("cdp_decisions_total", service="collector", entrypoint="data.cdp.collect.decision") >= 6
    assert moved("cdp_decisions_total", entrypoint="data.cdp.access.decision", result="deny") == 1

    # Profile follows the collector: its position there reaches the collector's head.
    def followed():
        profile = scrape(platform, "profile")
        head = value(scrape(platform, "collector"), "cdp_log_head", service="collector")
        position = value(profile, "cdp_follower_position", service="profile", upstream="collector")
        return position >= head and value(profile, "cdp_follower_lag", upstream="collector") == 0

    wait_until(followed, what="profile's follower position at the collector's head")
    person = wait_until(lambda: client.identity.get_person(identifier=ident("user_id", "obs-user-a-0"), timeout=5))
    assert person.person_id
    for service in SERVICES:
        samples = scrape(platform, service)
        assert value(samples, "cdp_log_head", service=service) >= 0
        assert any(n == "cdp_rpc_requests_total" for n, _ in samples), f"{service} counts no RPC"


def knock_without_a_certificate(port: int) -> None:
    """A TLS handshake with no client certificate, then plain HTTP, on a gRPC port."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    for attempt in ("tls", "http"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            try:
                if attempt == "tls":
                    with context.wrap_socket(raw) as tls:
                        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                        tls.recv(100)
                else:
                    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    raw.recv(100)
            except OSError:
                pass  # refused, as it should be


def test_logs_are_json_lines_without_personal_data(platform, client):
    source = client.create_source("obs-logs", server_side=True)
    client.ingest(source.write_key, calls("b", 3))
    wait_until(lambda: client.profile.get_profile(identifier=ident("user_id", "obs-user-b-2"), timeout=5))
    for service in SERVICES:  # what a scanner sends: no line of gRPC's own text in the logs for it
        knock_without_a_certificate(platform.ports[service])
    lines = 0
    for service in SERVICES:
        text = platform.log_path(service).read_text(errors="replace")
        for line in text.splitlines():
            entry = json.loads(line)  # every line is one JSON object
            assert entry["service"] == service and entry["level"] and entry["ts"] and "message" in entry
            lines += 1
        for personal in PERSONAL:
            assert personal not in text, f"{service}'s log holds a personal value it was sent"
    assert lines >= len(SERVICES)  # each says it listens, at least
    collector = [
        json.loads(line) for line in platform.log_path("collector").read_text().splitlines() if "listening" in line
    ]
    assert collector and collector[0]["logger"].startswith("cdp.")
