"""The key hierarchy: data keys wrapped under key-encryption keys (KEKs) kept outside the database,
rotated so that a copy of the key table from before a forget no longer unwraps anything."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from cdp.platform import rotation as rotation_module
from cdp.platform import vault as vault_module
from cdp.platform.config import StoreConfig
from cdp.platform.keystore import FileKeyStore, KekGone, KeyStoreError
from cdp.platform.rotation import KeyRotator, rotate
from cdp.platform.vault import RotationBusy, Vault, data_keys, open_key_table, open_vault

MASTER = bytes(range(32))
EMAIL = "rotate-me@example.com"


@pytest.fixture
def table(store_config):
    t = open_key_table(store_config)
    yield t
    t.close()


@pytest.fixture
def vault(table):
    return Vault(table, MASTER, cache_ttl=0)


def rows(table) -> list:
    with table.engine.connect() as conn:
        return conn.execute(sa.select(data_keys)).all()


def test_rotation_rewraps_every_live_key_and_destroys_the_old_kek(vault, table, store_config):
    subjects = [f"user_id:r{i}" for i in range(2500)]  # several batches
    tokens = vault.encrypt_many([(s, "identify", "email", f"{s}@example.com") for s in subjects])
    assert {r.kek_version for r in rows(table)} == {1}
    old_file = vault.keys.path(1)
    assert old_file.exists()

    done = rotate(vault, batch=1000)
    assert (done.new_version, done.destroyed_versions, done.rewrapped) == (2, [1], len(subjects))
    assert {r.kek_version for r in rows(table)} == {2}
    assert not old_file.exists() and vault.keys.versions() == [2]
    counts = table.counts()
    assert counts.current_kek == 2 and counts.live_by_kek == {2: len(subjects)}
    assert counts.rotated_at is not None and (datetime.now(UTC) - counts.rotated_at).total_seconds() < 60
    # The data keys themselves did not change: every token decrypts, here and in a fresh process.
    items = [(s, "identify", "email", t) for s, t in zip(subjects, tokens, strict=True)]
    assert vault.decrypt_many(items) == [f"{s}@example.com" for s in subjects]
    fresh_table = open_key_table(store_config)
    try:
        assert Vault(fresh_table, MASTER).decrypt_many(items) == [f"{s}@example.com" for s in subjects]
    finally:
        fresh_table.close()
    # New keys are made under the new KEK.
    vault.keys_for(["user_id:after"])
    assert {r.kek_version for r in rows(table)} == {2}


def test_a_copy_of_a_forgotten_key_does_not_unwrap_after_rotation(vault, table):
    token = vault.encrypt("user_id:gone", "identify", "email", EMAIL)
    kept = vault.encrypt("user_id:kept", "identify", "email", "kept@example.com")
    hashed = vault.subject_hash("user_id:gone")
    (copy,) = [r for r in rows(table) if r.subject == hashed]  # what a WAL segment or a backup keeps
    # Before the rotation the copy is dangerous: with the master key and the key directory it unwraps.
    assert vault.keys.unwrap(copy.kek_version, copy.wrapped_key)

    assert vault.destroy(["user_id:gone"]) == 1
    rotate(vault)

    restored = vault_module.KeyRow(copy.key_id, copy.subject, copy.wrapped_key, False, copy.kek_version)
    with pytest.raises(KekGone):
        vault.keys.unwrap(copy.kek_version, copy.wrapped_key)
    with pytest.raises(KekGone):
        vault.unwrap(restored)
    for version in vault.keys.versions():  # no KEK there is opens it either
        with pytest.raises(KeyStoreError):
            vault.keys.unwrap(version, copy.wrapped_key)
    assert vault.decrypt("user_id:gone", "identify", "email", token) is None
    assert vault.decrypt("user_id:kept", "identify", "email", kept) == "kept@example.com"


def test_a_copied_sqlite_key_table_decrypts_nothing_after_forget_and_rotation(tmp_path):
    config = StoreConfig(kind="sqlite", data_dir=tmp_path / "data")
    table = open_key_table(config)
    vault = Vault(table, MASTER, cache_ttl=0)
    token = vault.encrypt("user_id:gone", "identify", "email", EMAIL)
    table.scrub()  # the copy is of the database file whole
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy2(config.data_dir / "vault.sqlite", backup / "vault.sqlite")

    def from_backup() -> Vault:
        copied = open_key_table(StoreConfig(kind="sqlite", data_dir=backup, key_dir=config.key_path))
        return Vault(copied, MASTER, cache_ttl=0)

    assert from_backup().decrypt("user_id:gone", "identify", "email", token) == EMAIL  # the danger
    vault.destroy(["user_id:gone"])
    shutil.copy2(backup / "vault.sqlite", tmp_path / "before-rotation.sqlite")
    assert from_backup().decrypt("user_id:gone", "identify", "email", token) == EMAIL  # until a rotation
    rotate(vault)
    shutil.copy2(tmp_path / "before-rotation.sqlite", backup / "vault.sqlite")
    with pytest.raises(KekGone):
        from_backup().decrypt("user_id:gone", "identify", "email", token)
    table.close()


def test_keys_made_while_a_rotation_runs_end_under_the_new_kek(store_config, vault, table):
    vault.encrypt_many([(f"user_id:pre{i}", "t", "f", "v") for i in range(3000)])
    writer_table = open_key_table(store_config)
    writer = Vault(writer_table, MASTER, cache_ttl=0)
    stop = threading.Event()
    made: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def write() -> None:
        n = 0
        try:
            while not stop.is_set():
                subject = f"user_id:during{n}"
                made.append((subject, writer.encrypt(subject, "t", "f", subject)))
                n += 1
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        rotate(vault, batch=200)
        rotate(vault, batch=200)
    finally:
        stop.set()
        thread.join()
        writer_table.close()
    assert not errors, errors
    assert made
    assert {r.kek_version for r in rows(table) if not r.destroyed} == {3}
    assert vault.keys.versions() == [3]
    reader = Vault(table, MASTER, cache_ttl=0)
    assert reader.decrypt_many([(s, "t", "f", t) for s, t in made]) == [s for s, _ in made]


def test_a_process_holding_an_old_row_reads_the_rewrapped_one(store_config, vault, table):
    token = vault.encrypt("user_id:u1", "t", "f", "value")
    other_table = open_key_table(store_config)
    try:
        other = Vault(other_table, MASTER, cache_ttl=0)
        stale = other_table.by_key_ids([token.split(":")[2]])
        rotate(vault)
        # It read the row under KEK 1, which is gone now: it reads the row again, under KEK 2.
        [row] = stale.values()
        assert row.kek_version == 1
        assert len(other._unwrap_fresh(row)) == 32
        assert other.decrypt("user_id:u1", "t", "f", token) == "value"
    finally:
        other_table.close()


def test_one_rotation_at_a_time(vault, table):
    vault.keys_for(["user_id:u1"])
    with table.rotation_lock():
        with pytest.raises(RotationBusy):
            rotate(vault)
        with pytest.raises(RotationBusy):
            rotate(vault, wait_s=0.3)
    assert rotate(vault).new_version == 2


def test_kek_files_are_private_sealed_under_the_master_key_and_bound_to_their_version(vault, store_config):
    vault.keys_for(["user_id:u1"])
    rotate(vault)
    directory = store_config.key_path / "kek"
    assert store_config.key_path.stat().st_mode & 0o777 == 0o700
    assert directory.stat().st_mode & 0o777 == 0o700
    [kek] = list(directory.iterdir())
    assert kek.name == "00000002.kek" and kek.stat().st_mode & 0o777 == 0o600
    assert not store_config.key_path.is_relative_to(store_config.data_dir)
    with pytest.raises(KeyStoreError, match="wrong master key"):
        FileKeyStore(store_config.key_path, secrets.token_bytes(32)).wrap(2, bytes(32))
    os.link(kek, directory / "00000007.kek")  # renamed to another version, it does not open
    with pytest.raises(KeyStoreError, match="wrong master key"):
        FileKeyStore(store_config.key_path, MASTER).wrap(7, bytes(32))


def test_an_older_key_table_keeps_working_and_the_first_rotation_moves_it_under_a_kek(tmp_path):
    config = StoreConfig(kind="sqlite", data_dir=tmp_path / "data")
    config.data_dir.mkdir()
    engine = sa.create_engine(f"sqlite:///{config.data_dir / 'vault.sqlite'}")
    secret = secrets.token_bytes(32)
    with engine.begin() as conn:  # as an older version made it: subjects in clear, wrapped under the master key
        conn.execute(
            sa.text(
                "CREATE TABLE data_keys (key_id VARCHAR(32) PRIMARY KEY, subject TEXT UNIQUE, wrapped_key BLOB, "
                "created_at DATETIME NOT NULL, destroyed BOOLEAN NOT NULL, destroyed_at DATETIME)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO data_keys VALUES ('00aa', 'user_id:old', :w, '2024-01-01 00:00:00', 0, NULL)"),
            {"w": aes_key_wrap(MASTER, secret)},
        )
    engine.dispose()
    old_key = vault_module._Key("00aa", "", "user_id:old", secret, 0.0)
    token = Vault._encrypt(old_key, "identify", "email", EMAIL)

    table = open_key_table(config)
    vault = Vault(table, MASTER, cache_ttl=0)
    [row] = rows(table)
    assert row.subject == vault.subject_hash("user_id:old") and row.kek_version == 0
    assert vault.decrypt("user_id:old", "identify", "email", token) == EMAIL
    rotate(vault)
    [row] = rows(table)
    assert row.kek_version == vault.table.current_kek() and row.kek_version > 0
    assert vault.decrypt("user_id:old", "identify", "email", token) == EMAIL
    table.close()


def test_the_rotator_rotates_on_schedule_and_soon_after_a_forget(vault, table, monkeypatch):
    monkeypatch.setattr(rotation_module, "AFTER_FORGET_S", 0.05)
    vault.keys_for(["user_id:u1", "user_id:u2"])  # the first KEK: the schedule counts from it

    async def until(check, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def scenario() -> None:
        scheduled = KeyRotator(vault, interval_s=0.3)
        task = asyncio.create_task(scheduled.run())
        assert await until(lambda: scheduled.rotations >= 2, 10), "no rotation on schedule"
        task.cancel()
        on_forget = KeyRotator(vault, interval_s=0)
        vault.on_destroy.append(on_forget.request)
        task = asyncio.create_task(on_forget.run())
        await asyncio.sleep(0.5)
        assert on_forget.rotations == 0  # no schedule
        before = table.current_kek()
        await asyncio.to_thread(vault.destroy, ["user_id:u1"])
        assert await until(lambda: on_forget.rotations == 1, 10), "no rotation after the destroy"
        assert table.current_kek() == before + 1 and vault.keys.versions() == [before + 1]
        task.cancel()

    asyncio.run(scenario())


def test_an_install_refuses_a_master_key_that_does_not_open_its_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_MASTER_KEY", raising=False)
    config = StoreConfig(kind="sqlite", data_dir=tmp_path / "data")
    vault = open_vault(config)
    vault.keys_for(["user_id:u1"])
    vault.table.close()
    config.master_key_path.unlink()  # lost, or moved without saying where: a new one would be made
    with pytest.raises(RuntimeError, match="is the master key where it was"):
        open_vault(config)
