"""The decision-log witness lives in the state directory, and a witness that cannot be written
never breaks a commit: the decider's chain moves on, and the next commit writes the head again."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.platform import config as config_module
from cdp.platform.access import ACCESS_DECISION
from cdp.platform.decisions import open_decider
from cdp.platform.published import decode, topic_of
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.witness import read_head, witness_path


@pytest.fixture
def opened(tmp_path):
    def open_with(*flags: str):
        config = config_module.load("collector", ["--data-dir", str(tmp_path / "data"), *flags])
        store = open_store(config.store, "collector")
        opened.stores.append(store)
        return config, store, open_decider(config, store)

    opened.stores = []
    yield open_with
    for store in opened.stores:
        store.close()


def decide_new(decider, n: int) -> None:
    """Decide something new and record it, as an RPC's access decision is recorded."""
    decider.decide(ACCESS_DECISION, {"method": "/x/Y", "caller": {"subject": f"s{n}", "kind": "person", "roles": []}})
    UnitOfWork(decider.store, decider).commit()


def chain(store) -> list[decision_pb2.DecisionRecorded]:
    return [decode(n.topic, n.state) for n in store.replay(topic_of(decision_pb2.DecisionRecorded))]


def test_directories_default_to_the_data_dir(tmp_path):
    config = config_module.load("collector", ["--data-dir", str(tmp_path)])
    assert config.credentials_dir == config.state_dir == tmp_path
    config = config_module.load(
        "collector", ["--data-dir", str(tmp_path), "--credentials-dir", "/c", "--state-dir", "/s", "--probe-port", "9"]
    )
    assert (config.credentials_dir, config.state_dir, config.probe_port) == (Path("/c"), Path("/s"), 9)


def test_directories_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_CREDENTIALS_DIR", "/run/credentials")
    monkeypatch.setenv("CDP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CDP_PROBE_PORT", "8081")
    config = config_module.load("collector", ["--data-dir", str(tmp_path)])
    assert config.credentials_dir == Path("/run/credentials")
    assert config.state_dir == tmp_path / "state"
    assert config.probe_port == 8081


def test_the_witness_is_written_to_the_state_dir(tmp_path, opened):
    _, store, decider = opened("--state-dir", str(tmp_path / "state"))
    decide_new(decider, 1)
    records = chain(store)
    assert read_head(witness_path(tmp_path / "state", "collector")) == (records[-1].sequence, records[-1].hash)
    assert not (tmp_path / "data" / "witness").exists()


def test_an_unwritable_witness_breaks_no_commit(tmp_path, opened, caplog):
    blocker = tmp_path / "state"
    _, store, decider = opened("--state-dir", str(blocker))
    blocker.write_text("a file where the witness directory should be")  # every write under it fails
    with caplog.at_level(logging.ERROR, logger="cdp.platform.witness"):
        for n in range(5):
            decide_new(decider, n)  # raised before, then every later commit hit a duplicate key
    records = chain(store)
    assert [r.sequence for r in records] == list(range(1, len(records) + 1))
    assert len({r.decision_id for r in records}) == len(records) >= 5
    assert len([r for r in caplog.records if "witness" in r.getMessage()]) == 1  # said once, not per commit

    # Writable again: the next commit writes the head, even one that records nothing new.
    blocker.unlink()
    UnitOfWork(store, decider).commit()
    assert read_head(witness_path(blocker, "collector")) == (records[-1].sequence, records[-1].hash)


def test_a_store_behind_its_witness_counts_a_verify_failure(tmp_path, opened):
    from cdp.platform import metrics
    from cdp.platform.witness import write_head

    failures = metrics.VERIFY_FAILURES.labels("collector", "records_removed")
    _, _, decider = opened("--state-dir", str(tmp_path / "state"))
    decide_new(decider, 1)
    before = failures._value.get()
    sequence, head = read_head(witness_path(tmp_path / "state", "collector"))
    write_head(witness_path(tmp_path / "state", "collector"), sequence + 3, head)  # records "removed" since
    opened("--state-dir", str(tmp_path / "state"))  # the service starts again on that store
    assert failures._value.get() == before + 1


def test_the_witness_is_overwritten_in_place_and_a_reader_always_finds_a_head(tmp_path):
    """One write in place per commit: the same file, SIZE bytes whatever was there before (a
    longer file written otherwise is cut to it), and a reader beside a writer never reads None."""
    import json
    import os

    from cdp.platform.witness import SIZE, read_witness, write_head

    path = witness_path(tmp_path / "state", "collector")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"sequence": 1, "hash": "a" * 64}) + " " * 5000)  # longer, as written otherwise
    inode = path.stat().st_ino
    signed = {"service": "collector", "signed_at": "2026-12-02T00:00:00Z", "key_id": "k" * 16, "signature": "s" * 88}
    write_head(path, 2, "b" * 64, signed)
    assert path.stat().st_ino == inode and path.stat().st_size == SIZE
    assert read_head(path) == (2, "b" * 64) and read_witness(path)["signature"] == "s" * 88
    assert sorted(os.listdir(path.parent)) == ["collector.json"], "no temporary files"

    # Another process writes heads as fast as it can (a live service, its witness read by verify).
    done = multiprocessing.get_context("fork").Event()
    writer = multiprocessing.get_context("fork").Process(target=_writing, args=(path, signed, done))
    writer.start()
    try:
        until = time.monotonic() + 2
        seen = []
        while time.monotonic() < until:
            seen.append(read_head(path))
    finally:
        done.set()
        writer.join()
    assert None not in seen
    assert [s for s, _ in seen] == sorted(s for s, _ in seen), "heads only move on"
    # Consecutive heads are the same length: a read during a write parsed as parts of two (about
    # 1 read in 2,500 before the check).
    torn = [(s, h) for s, h in seen if s > 2 and h != f"{s:064x}"]
    assert not torn, f"{len(torn)} of {len(seen)} reads were parts of two heads"
    with pytest.raises(ValueError, match="does not fit"):
        write_head(path, 3, "c" * 64, {"signature": "s" * SIZE})


def _writing(path: Path, signed: dict, done) -> None:
    from cdp.platform.witness import write_head

    sequence = 2
    while not done.is_set():
        sequence += 1
        write_head(path, sequence, f"{sequence:064x}", signed)  # all of one length
