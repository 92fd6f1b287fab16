"""Signed decision-log heads: the key is made once, 0600, among the credentials; a head verifies
with its service's public key only, and not once any of its fields changed; the decider signs the
head of every commit that recorded decisions and writes it, signed, to its witness."""

from __future__ import annotations

import dataclasses
import stat

from cdp.platform import config as config_module
from cdp.platform.access import ACCESS_DECISION
from cdp.platform.decisions import open_decider
from cdp.platform.heads import (
    SignedHead,
    ensure_head_key,
    key_id,
    key_paths,
    load_head_key,
    sign_head,
    verify_head,
    witness_peer,
)
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.witness import read_witness, witness_path


def test_a_head_verifies_with_its_key_only_and_not_once_edited(tmp_path):
    key = ensure_head_key(tmp_path, "profile")
    assert key is not None
    private, public = key_paths(tmp_path, "profile")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and public.exists()
    assert ensure_head_key(tmp_path, "profile").private_bytes_raw() == key.private_bytes_raw()  # made once
    public_key = load_head_key(tmp_path, "profile")
    assert public_key is not None and key_id(public_key) == key_id(key.public_key())

    head = sign_head(key, "profile", 7, "ab" * 32)
    assert verify_head(public_key, head)
    assert verify_head(public_key, SignedHead.from_dict(head.as_dict()))
    assert verify_head(public_key, SignedHead.from_proto(head.as_proto()))
    for field, value in [("service", "segment"), ("sequence", 8), ("hash", "cd" * 32), ("signed_at", "2020")]:
        assert not verify_head(public_key, dataclasses.replace(head, **{field: value})), field
    assert not verify_head(public_key, dataclasses.replace(head, signature=b""))
    other = ensure_head_key(tmp_path, "segment")
    assert other is not None
    assert not verify_head(load_head_key(tmp_path, "segment"), head)
    assert not verify_head(None, head)
    assert load_head_key(tmp_path, "activation") is None


def test_the_witness_ring_covers_every_service():
    ring = [witness_peer(s) for s in config_module.SERVICES]
    assert sorted(ring) == sorted(config_module.SERVICES)
    assert all(witness_peer(s) != s for s in config_module.SERVICES)


def test_the_decider_signs_each_new_head_and_its_witness(tmp_path):
    config = config_module.load("collector", ["--data-dir", str(tmp_path / "data")])
    store = open_store(config.store, "collector")
    try:
        decider = open_decider(config, store)
        heads: list[SignedHead] = []
        decider.on_head.append(heads.append)
        uow = UnitOfWork(store, decider)
        for n in range(3):
            decider.decide(ACCESS_DECISION, {"method": "/x/Y", "caller": {"subject": f"s{n}", "kind": "person"}})
            uow.commit()
        uow.commit()  # nothing new decided: no new head
        public = load_head_key(config.credentials_path, "collector")
        assert [h.sequence for h in heads] == [1, 2, 3]
        assert all(verify_head(public, h) for h in heads)
        written = read_witness(witness_path(config.state_path, "collector"))
        assert written is not None
        assert verify_head(public, SignedHead.from_dict(written)) and written["sequence"] == 3
        assert heads[-1].hash == written["hash"] == decider._head
    finally:
        store.close()
