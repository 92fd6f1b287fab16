"""Forget leaves nothing, not even in copies: after `cdp keys rotate`, a copy of the key table from
before the forget (rows read out of PostgreSQL, its WAL segments, a copy of vault.sqlite) no longer
decrypts the forgotten person's email, with the master key and every KEK file at hand. Services go
on serving reads and ingest while keys rotate.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2
from cdp.platform.config import StoreConfig
from cdp.platform.keystore import KekGone, KeyStoreError
from cdp.platform.personal import subject_of
from cdp.platform.vault import KeyRow, Vault, data_keys, open_key_table, open_vault, vault_state
from support.calls import event
from support.governance import ingest_accepted, profile_by, run_cli, store_config
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

USER, EMAIL = "user-rotate-5c1d", "rotate-me-5c1d@example.com"
OTHER, OTHER_EMAIL = "user-stays-5c1d", "stays-5c1d@example.com"
TS = "2024-05-01T10:00:00Z"


def email_token(client: Client, user_id: str) -> str:
    [accepted] = [
        a for a in client.read_messages("collector", collector_pb2.EventAccepted) if a.event.user_id == user_id
    ]
    return json.loads(accepted.event.traits)["email"]


def key_rows(config: StoreConfig) -> list:
    table = open_key_table(config)
    try:
        with table.engine.connect() as conn:
            return conn.execute(sa.select(data_keys)).all()
    finally:
        table.close()


def pg_wal(dsn: str) -> Path | None:
    """The server's WAL directory, if this process can read it (a local server)."""
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            directory = conn.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'").fetchone()
    except psycopg.Error:  # not a superuser: the setting is hidden
        return None
    wal = Path(directory[0]) / "pg_wal" if directory and directory[0] else None
    try:
        return wal if wal is not None and any(wal.iterdir()) else None
    except OSError:
        return None


def copy_wal(wal: Path, into: Path) -> Path:
    into.mkdir()
    for segment in wal.iterdir():
        if segment.is_file():
            shutil.copy2(segment, into / segment.name)
    return into


def restored_vault(config: StoreConfig, rows: list, root: Path) -> Vault:
    """A vault over a restored copy of the key table (the rows given), with the install's key
    directory and master key: what someone holding a backup and every key file would try."""
    if config.kind == "sqlite":
        restored = StoreConfig(kind="sqlite", data_dir=root, key_dir=config.key_path)
    else:
        restored = StoreConfig(
            kind="postgres",
            data_dir=root,
            postgres_dsn=config.postgres_dsn,
            schema_prefix=f"{config.schema_prefix}restored{uuid.uuid4().hex[:4]}_",
            key_dir=config.key_path,
        )
    table = open_key_table(restored)
    with table.engine.begin() as conn:
        conn.execute(data_keys.insert(), [dict(r._mapping) for r in rows])
        conn.execute(vault_state.insert(), [{"id": 1, "current_kek": max(r.kek_version or 1 for r in rows)}])
    return open_vault(restored, cache_ttl=0)


def test_after_forget_and_rotation_a_copy_from_before_decrypts_nothing(platform, client, tmp_path):
    config = store_config(platform)
    source = client.create_source("rotation-e2e", server_side=True)
    ingest_accepted(
        client,
        source,
        [
            event("identify", "kr-1", TS, user_id=USER, traits={"email": EMAIL, "plan": "pro"}),
            event("identify", "kr-2", TS, user_id=OTHER, traits={"email": OTHER_EMAIL}),
        ],
    )
    wait_until(lambda: profile_by(client, "user_id", USER), timeout=30, what="the person's profile")
    token, other_token = email_token(client, USER), email_token(client, OTHER)
    subject = subject_of(USER, "")

    live = open_vault(config, cache_ttl=0)
    hashed = live.subject_hash(subject)
    # The copy: the key table's rows as they are before the forget (a dump, a backup, a replica).
    copy = key_rows(config)
    [theirs] = [r for r in copy if r.subject == hashed]
    assert not [r for r in copy if r.subject and USER in r.subject], "the key table names the person"
    # ... and, on PostgreSQL, the server's own WAL segments, where the row was written.
    wal_copy = None
    if config.kind == "postgres":
        wal = pg_wal(config.postgres_dsn)
        if wal is not None:
            wal_copy = copy_wal(wal, tmp_path / "wal-before")
    else:
        backup = tmp_path / "sqlite-backup"
        backup.mkdir()
        for name in ("vault.sqlite", "vault.sqlite-wal"):
            if (platform.data_dir / name).exists():
                shutil.copy2(platform.data_dir / name, backup / name)
    # The danger, shown: before the forget, the copy with the install's keys decrypts their email.
    before = restored_vault(config, copy, tmp_path / "restored-before")
    assert before.decrypt(subject, "identify", "email", token) == json.dumps(EMAIL)
    before.table.close()
    if wal_copy is not None:
        segments = b"".join(p.read_bytes() for p in wal_copy.iterdir())
        assert theirs.wrapped_key in segments, "the WAL copy should hold the wrapped key"
    versions_before = live.keys.versions()

    done = run_cli(platform, "forget", "--user-id", USER, "--subject", "dpo@example.com", "--role", "privacy_officer")
    assert done.returncode == 0, done.stderr + done.stdout
    forgotten_at = time.monotonic()
    # Identity rotates on its own soon after a forget: the KEKs of before are destroyed ...
    wait_until(
        lambda: not set(live.keys.versions()) & set(versions_before),
        timeout=20,
        interval=0.05,
        what="identity's rotation after the forget",
    )
    print(f"\nthe old KEK was destroyed {time.monotonic() - forgotten_at:.2f}s after the forget returned")
    # ... and an operator can, through the real CLI.
    rotated = run_cli(platform, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr + rotated.stdout
    assert "rotated to KEK" in rotated.stdout
    status = run_cli(platform, "keys", "status")
    assert status.returncode == 0 and "live data key(s)" in status.stdout, status.stderr + status.stdout
    current = live.keys.versions()
    assert current and not set(current) & set(versions_before), (current, versions_before)

    # With the master key and every KEK file there is, the pre-forget wrapped key does not unwrap ...
    for version in current:
        with pytest.raises(KeyStoreError):
            live.keys.unwrap(version, theirs.wrapped_key)
    with pytest.raises(KekGone):
        live.unwrap(KeyRow(theirs.key_id, theirs.subject, theirs.wrapped_key, False, theirs.kek_version))
    # ... so the restored copy does not decrypt their email (nor anyone's: every old KEK is gone).
    after = restored_vault(config, copy, tmp_path / "restored-after")
    with pytest.raises(KekGone):
        after.decrypt(subject, "identify", "email", token)
    with pytest.raises(KekGone):
        after.decrypt(subject_of(OTHER, ""), "identify", "email", other_token)
    after.table.close()
    if config.kind == "sqlite":
        backed_up = open_vault(StoreConfig(kind="sqlite", data_dir=backup, key_dir=config.key_path), cache_ttl=0)
        with pytest.raises(KekGone):
            backed_up.decrypt(subject, "identify", "email", token)
        backed_up.table.close()
    if wal_copy is not None:
        # Every 40-byte window of the old WAL that the install's KEKs could unwrap would be a key.
        segments = b"".join(p.read_bytes() for p in wal_copy.iterdir())
        offset = segments.find(theirs.wrapped_key)
        assert offset >= 0
        for version in current:
            with pytest.raises(KeyStoreError):
                live.keys.unwrap(version, segments[offset : offset + len(theirs.wrapped_key)])
    # The live install still reads the other person, and has forgotten this one.
    assert live.decrypt(subject_of(OTHER, ""), "identify", "email", other_token) == json.dumps(OTHER_EMAIL)
    assert live.decrypt(subject, "identify", "email", token) is None
    live.table.close()


def test_services_serve_reads_and_ingest_while_keys_rotate(tmp_path):
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        config = store_config(platform)
        source = client.create_source("rotation-load", server_side=True)
        persons = 2000
        for start in range(0, persons, 500):
            ingest_accepted(
                client,
                source,
                [
                    event("identify", f"pre-{i}", TS, user_id=f"u-{i}", traits={"email": f"u{i}@example.com"})
                    for i in range(start, start + 500)
                ],
            )
        wait_until(lambda: profile_by(client, "user_id", f"u-{persons - 1}"), timeout=60, what="the last profile")

        stop = threading.Event()
        errors: list[str] = []
        counts = {"ingested": 0, "reads": 0}

        def load() -> None:
            n = 0
            while not stop.is_set():
                try:
                    ingest_accepted(
                        client,
                        source,
                        [event("identify", f"during-{n}", TS, user_id=f"d-{n}", traits={"email": f"d{n}@example.com"})],
                    )
                    counts["ingested"] += 1
                    i = n * 7 % persons
                    email = json.loads(profile_by(client, "user_id", f"u-{i}").traits["email"].value)
                    if email != f"u{i}@example.com":
                        errors.append(f"u-{i}: {email!r}")
                    counts["reads"] += 1
                except Exception as error:
                    errors.append(repr(error))
                n += 1

        thread = threading.Thread(target=load)
        thread.start()
        try:
            for _ in range(3):
                rotated = run_cli(platform, "keys", "rotate", "--batch", "100")
                assert rotated.returncode == 0, rotated.stderr + rotated.stdout
        finally:
            time.sleep(0.5)
            stop.set()
            thread.join()
        assert not errors, errors[:5]
        assert counts["ingested"] > 0 and counts["reads"] > 0, counts
        # After: every key wraps under the one KEK left, and the newest persons read in clear too.
        table = open_key_table(config)
        counts_now = table.counts()
        table.close()
        assert list(counts_now.live_by_kek) == [counts_now.current_kek], counts_now
        last = counts["ingested"] - 1
        profile = wait_until(lambda: profile_by(client, "user_id", f"d-{last}"), timeout=30, what="the newest")
        assert json.loads(profile.traits["email"].value) == f"d{last}@example.com"

        # Files: the key directory is beside the data directory, private, and holds the master key.
        keys = config.key_path
        assert keys == tmp_path / "data-keys" and not keys.is_relative_to(platform.data_dir)
        assert not list(platform.data_dir.rglob("master.key")) and not list(platform.data_dir.rglob("*.kek"))
        assert (keys / "master.key").exists()
        for path in [keys, *keys.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path} {oct(mode)}"
