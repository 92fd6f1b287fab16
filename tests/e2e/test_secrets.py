"""Files and secrets on a running platform: a private data directory, write keys stored only as
keyed hashes, and bearer tokens refused once expired, too long-lived or revoked."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import uuid

import pytest
import requests

from cdp.client import Unauthenticated
from cdp.client.local import ensure_default_source
from cdp.platform.config import SERVICES
from cdp.platform.security import credentials
from cdp.platform.tokens import TokenIssuer, load_private_key
from support.calls import event
from support.platform_fixture import Client, free_ports, log_tails, new_platform

pytestmark = pytest.mark.e2e

TS = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("secrets")
    # What an older version left: a directory and a file others could read.
    (data_dir / "logs").mkdir()
    (data_dir / "logs" / "old.log").write_text("before\n")
    for path, mode in ((data_dir, 0o755), (data_dir / "logs", 0o755), (data_dir / "logs" / "old.log", 0o644)):
        os.chmod(path, mode)
    platform = new_platform(data_dir)
    platform.http_port = free_ports(1)[0]
    try:
        platform.start_all(timeout=60)
    except (RuntimeError, TimeoutError) as error:
        platform.stop()
        raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def write_key(platform):
    return ensure_default_source(platform)


def test_write_keys_authenticate_but_are_never_stored_or_listed(platform, client, write_key):
    assert (platform.data_dir / "write_key").read_text().strip() == write_key
    assert ensure_default_source(platform) == write_key  # a second run reads the saved key
    assert client.collector.ingest(write_key, [event("track", "g1", TS, user_id="u1", event="A")]).accepted == 1
    with pytest.raises(Unauthenticated, match="write key"):
        wrong = write_key[:-1] + ("y" if write_key.endswith("x") else "x")  # never the key itself
        client.collector.ingest(wrong, [event("track", "g2", TS, user_id="u1", event="A")])
    url = f"http://127.0.0.1:{platform.http_port}/v1/track"
    call = {"type": "track", "messageId": f"h-{uuid.uuid4()}", "userId": "u1", "event": "B", "timestamp": TS}
    assert requests.post(url, json=call, auth=(write_key, ""), timeout=10).status_code == 200
    assert requests.post(url, json=call, auth=(write_key + "x", ""), timeout=10).status_code == 401
    listed = [s for s in client.collector.list_sources() if s.name == "default"]
    assert listed and not listed[0].write_key and write_key.startswith(listed[0].write_key_hint)
    stores = list(platform.data_dir.glob("collector.sqlite*"))
    assert stores
    for path in stores:
        assert write_key.encode() not in path.read_bytes(), f"{path.name} holds the write key in clear"


def test_no_file_in_the_data_directory_is_for_other_users(platform, client, write_key):
    client.collector.ingest(write_key, [event("identify", "p1", TS, user_id="u2", traits={"email": "a@example.com"})])
    time.sleep(1)  # the followers store what the collector took
    loose = []
    for directory, dirs, files in os.walk(platform.data_dir):
        for name in [".", *dirs, *files]:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                loose.append(f"{os.path.relpath(path, platform.data_dir)} {stat.filemode(mode)}")
    names = {p.name for p in platform.data_dir.rglob("*")}
    assert {"collector.sqlite", "vault.sqlite", "write_key", "token-signing.key", "old.log"} <= names
    assert "master.key" not in names  # the master key is kept apart, in the key directory
    assert not loose, loose


def issued(platform, **options) -> TokenIssuer:
    return TokenIssuer(load_private_key(credentials(platform.data_dir).private_key), **options)


def refused(connection, service: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        connection.ops(service).get_status(timeout=5)
    return str(caught.value)


def test_expired_and_too_long_lived_tokens_are_refused(platform, client):
    expired = issued(platform, clock=lambda: time.time() - 66).issue("ana", ["admin"], ttl_s=60)
    assert "expired" in refused(client.connection.acting_as(expired), "profile")
    long_lived = issued(platform, max_ttl_s=86400).issue("ana", ["admin"], ttl_s=7200)
    assert "lives longer" in refused(client.connection.acting_as(long_lived), "profile")


@pytest.mark.parametrize("by", ["token", "id"])
def test_a_revoked_token_is_refused_by_every_service_within_a_second(platform, client, by):
    token = platform.token("ana", ("admin",), ttl_s=600)
    connection = client.connection.acting_as(token)
    for service in SERVICES:
        connection.ops(service).get_status(timeout=5)  # accepted (and remembered) first
    argument = token if by == "token" else credentials(platform.data_dir).verifier().verify(token).token_id
    env = {**os.environ, "CDP_DATA_DIR": str(platform.data_dir)}
    subprocess.run([sys.executable, "-m", "cdp.cli.main", "token", "revoke", argument], env=env, check=True)
    revoked_at = time.monotonic()
    waiting = set(SERVICES)
    while waiting and time.monotonic() - revoked_at < 1.0:
        for service in sorted(waiting):
            try:
                connection.ops(service).get_status(timeout=1)
            except Unauthenticated as error:
                assert "revoked" in str(error)
                waiting.discard(service)
        time.sleep(0.05)
    assert not waiting, f"still accepted a second after revocation by {sorted(waiting)}"
    other = client.connection.acting_as(platform.token("bo", ("admin",), ttl_s=600))
    assert other.ops("collector").get_status(timeout=5) is not None
