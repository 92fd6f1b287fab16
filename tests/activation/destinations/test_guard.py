"""The egress guard: allowlisted hosts only, and never this machine or private networks unless local."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from cdp.activation.destinations.guard import address_literal, allowed_hosts, check_address
from cdp.platform.config import REPO_POLICIES
from cdp.platform.errors import InvalidArgument
from cdp.platform.policy import load_bundle

EVERYWHERE = ["0.0.0.0/0", "::/0"]


def public(name: str) -> list:
    # A resolver for tests: names resolve as the test says, never through the network.
    return {
        "hooks.example.com": [ipaddress.ip_address("93.184.215.14")],
        "a.b.example.com": [ipaddress.ip_address("93.184.215.15")],
        "example.com": [ipaddress.ip_address("93.184.215.16")],
        "rebind.example.com": [ipaddress.ip_address("93.184.215.17"), ipaddress.ip_address("10.0.0.5")],
        "metadata.example.com": [ipaddress.ip_address("169.254.169.254")],
    }.get(name, [])


def refused(kind: str, config: dict, allowlist: list[str], local: bool = False, resolve=public) -> str:
    with pytest.raises(InvalidArgument) as caught:
        check_address(kind, config, allowlist, local, resolve=resolve)
    return str(caught.value)


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        ("localhost", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("[fd00::1]", "private"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_this_machine_and_private_networks_are_refused(host, rule):
    # The real resolver: `localhost` resolves to loopback here, and the numeric forms are addresses.
    error = refused("webhook", {"url": f"https://{host}/hook"}, EVERYWHERE, resolve=None)
    assert error.startswith("config.url: host ") and f"{rule}" in error


def test_legacy_address_forms_are_read_as_the_address_they_name():
    loopback = ipaddress.ip_address("127.0.0.1")
    assert {address_literal(h) for h in ("127.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.0.0.1")} == {loopback}
    assert address_literal("hooks.example.com") is None


def test_a_name_resolving_to_a_private_or_metadata_address_is_refused():
    assert "10.0.0.5" in refused("webhook", {"url": "https://rebind.example.com/"}, ["*.example.com"])
    assert "link-local" in refused("webhook", {"url": "https://metadata.example.com/"}, ["*.example.com"])
    assert "link-local" in refused("webhook", {"url": "https://metadata.example.com/"}, ["*"])
    assert "does not resolve" in refused("webhook", {"url": "https://nowhere.example.com/"}, ["*.example.com"])


def test_the_allowlist_patterns():
    for host, allowlist in (
        ("hooks.example.com", ["hooks.example.com"]),
        ("hooks.example.com", ["*.example.com"]),
        ("a.b.example.com", ["*.example.com"]),
        ("HOOKS.example.com.", ["hooks.example.com"]),
        ("hooks.example.com", ["93.184.215.0/24"]),
        ("93.184.215.14", ["93.184.215.0/24"]),
        ("93.184.215.14", ["93.184.215.14"]),
        ("hooks.example.com", ["*"]),
    ):
        check_address("webhook", {"url": f"https://{host}/"}, allowlist, False, resolve=public)
    for host, allowlist in (
        ("example.com", ["*.example.com"]),  # the wildcard is for subdomains only
        ("evilexample.com", ["*.example.com"]),
        ("hooks.example.com.evil.net", ["hooks.example.com"]),
        ("hooks.example.com", []),
        ("hooks.example.com", ["10.0.0.0/8"]),
        ("rebind.example.com", ["93.184.215.0/24"]),  # one of its addresses is outside
    ):
        error = refused("webhook", {"url": f"https://{host}/"}, allowlist)
        assert error == f"config.url: host {host} is not in the destinations allowlist (cdp.destinations.allowed_hosts)"


def test_local_allows_this_machine_when_it_is_listed():
    for url in ("http://localhost:8080/", "http://127.0.0.1:8080/", "http://[::1]:8080/"):
        check_address("webhook", {"url": url}, ["localhost", "127.0.0.0/8", "::1"], True)
    assert "allowlist" in refused("webhook", {"url": "http://10.0.0.1/"}, ["localhost"], local=True, resolve=None)


def test_every_kind_names_its_field():
    local_list = ["localhost", "127.0.0.0/8"]
    assert refused("postgres", {"dsn": "postgresql://app@127.0.0.1:5432/db"}, local_list, resolve=None).startswith(
        "config.dsn.host: host 127.0.0.1"
    )
    assert refused("postgres", {"dsn": "host=hooks.example.com hostaddr=169.254.169.254"}, ["*"]).startswith(
        "config.dsn.hostaddr: host 169.254.169.254"
    )
    assert refused("postgres", {"dsn": "dbname=test"}, local_list, resolve=None).startswith(
        "config.dsn.host: host localhost"
    )
    assert refused("postgres", {"dsn": "postgresql:///test?host=/run/postgresql"}, local_list, resolve=None).startswith(
        "config.dsn.host: host localhost"
    )
    assert refused("rabbitmq", {"url": "amqp://127.1/"}, local_list, resolve=None).startswith("config.url: host 127.1")
    assert refused("nats", {"url": "nats://[::1]:4222"}, EVERYWHERE, resolve=None).startswith("config.url: host ::1")
    assert refused("redis", {"url": "redis://0.0.0.0:6379"}, EVERYWHERE, resolve=None).startswith(
        "config.url: host 0.0.0.0"
    )
    check_address("file", {"directory": "/srv/exports"}, [], False)  # no network


def test_the_allowlist_is_policy_data(tmp_path: Path):
    bundle = load_bundle(REPO_POLICIES)
    assert allowed_hosts(bundle.data) == ["localhost", "127.0.0.0/8", "::1"]
    # A deployment's data file replaces it (data files merge in file-name order).
    (tmp_path / "cdp").mkdir()
    for path in (REPO_POLICIES / "cdp").rglob("*.rego"):
        target = tmp_path / path.relative_to(REPO_POLICIES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (tmp_path / "data").mkdir()
    for path in (REPO_POLICIES / "data").glob("*.json"):
        (tmp_path / "data" / path.name).write_text(path.read_text())
    site = {"cdp": {"destinations": {"allowed_hosts": ["*.example.com"]}}}
    (tmp_path / "data" / "zz-site.json").write_text(json.dumps(site))
    assert allowed_hosts(load_bundle(tmp_path).data) == ["*.example.com"]


def test_each_connection_is_refused_when_the_host_is_not_public(unique, message):
    """Without local, a destination checks the addresses again when it connects (DNS may have changed)."""
    import asyncio

    from cdp.activation.destinations.registry import open_destination
    from cdp.activation.destinations.webhook import new_webhook_secret
    from cdp.bench.activation import SignedReceiver

    async def go():
        secret = new_webhook_secret()
        receiver = SignedReceiver(secret)
        url = await receiver.start()
        by_name = url.replace("127.0.0.1", "localhost")
        outcomes = {}
        for name, kind, config, secrets in (
            ("webhook address", "webhook", {"url": url}, {"secret": secret}),
            ("webhook name", "webhook", {"url": by_name}, {"secret": secret}),
            (
                "postgres",
                "postgres",
                {"schema": unique, "table": "t", "create_table": True},
                {"dsn": "postgresql://postgres@localhost:5432/test"},
            ),
            ("rabbitmq", "rabbitmq", {"url": "amqp://127.0.0.1:5672/", "routing_key": unique}, {}),
            ("nats", "nats", {"url": "nats://127.0.0.1:4222", "stream": unique, "subject": f"{unique}.x"}, {}),
            ("redis", "redis", {"url": "redis://localhost:6379/0", "stream": unique}, {}),
        ):
            destination = open_destination(kind, config, secrets)
            try:
                outcomes[name] = (await destination.send([message()]))[0]
            finally:
                await destination.close()
        await receiver.stop()
        return outcomes, receiver.received

    outcomes, received = asyncio.run(go())
    assert not received
    for name, outcome in outcomes.items():
        assert not outcome.ok and "egress refused" in outcome.error, (name, outcome)
    assert not outcomes["webhook address"].retryable and not outcomes["webhook name"].retryable
