"""A decision log that cannot be rewritten: each attack on one service's store and data directory
(without its signing key) makes `cdp audit verify` fail, naming the service and the record.

The platform runs once and sees some traffic that segment records decisions about (marketers and
an analyst creating audiences, each a new subject, so each records a decision). Activation, the
next in the witness ring, must have recorded segment's newest signed head before it stops. Then
each attack edits a copy of the data directory: segment's SQLite store and its witness file,
never the credentials (decision-keys/ holds the signing keys) nor another service's store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from cdp.api.ops.v1 import ops_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.platform.decisions import record_hash
from cdp.platform.witness import witness_path
from support.calls import trait_condition
from support.governance import rpc_error, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

DECISION_TOPIC = decision_pb2.DecisionRecorded.DESCRIPTOR.full_name
ATTACKED = "segment"
REFUSED = "al@example.com"  # the analyst whose refused audience is segment's newest decision


def create_audiences(platform, client, subjects: list[str], roles: list[str]) -> None:
    for subject in subjects:
        error = None
        try:
            client.segment.create_audience(
                f"{subject}'s",
                [trait_condition("plan", "eq", "x")],
                metadata=platform.metadata(subject, roles),
                purpose="marketing",
            )
        except Exception as raised:  # the analyst's is refused; a marketer's succeeds
            error = raised
        if "marketer" in roles:
            assert error is None, error


def witnessed_by_peer(client) -> int:
    heads = [m.head for m in client.read_messages("activation", ops_pb2.HeadWitnessed)]
    return max((h.sequence for h in heads if h.service == ATTACKED), default=0)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict:
    """A stopped platform's data directory, segment's chain, and an older signed witness of it."""
    data_dir = tmp_path_factory.mktemp("tamper") / "data"
    with running_platform(data_dir) as platform, Client(platform) as client:
        create_audiences(platform, client, [f"mia{i}@example.com" for i in range(3)], ["marketer"])
        witness = witness_path(data_dir, ATTACKED)
        older = json.loads(witness.read_text())
        create_audiences(platform, client, [f"max{i}@example.com" for i in range(3)], ["marketer"])
        # The CLI's own reads record access decisions once: made now, before the newest decision.
        warm = run_cli(platform, "audit", "verify")
        assert warm.returncode == 0, warm.stderr + warm.stdout
        assert rpc_error(
            client.segment.create_audience,
            "Analyst's",
            [trait_condition("plan", "eq", "x")],
            metadata=platform.metadata(REFUSED, ["analyst"]),
            timeout=10,
            purpose="marketing",
        )
        newest = decision_rows(data_dir)[-1][1]
        assert newest.caller == REFUSED and json.loads(newest.result)["allow"] is False
        wait_until(lambda: witnessed_by_peer(client) >= newest.sequence, timeout=20, what="activation's witness")
        verified = run_cli(platform, "audit", "verify")
        assert verified.returncode == 0, verified.stderr + verified.stdout
        assert "agrees with its signed heads" in verified.stdout
    # Nothing decided by segment since: the witness, the chain and the peer agree on the newest.
    chain = [r for _, r in decision_rows(data_dir)]
    assert chain[-1] == newest and json.loads(witness.read_text())["sequence"] == newest.sequence
    assert older["sequence"] < newest.sequence - 3 and older["signature"]
    return {"data_dir": data_dir, "chain": chain, "older_witness": older}


def decision_rows(data_dir: Path) -> list[tuple[int, decision_pb2.DecisionRecorded]]:
    with sqlite3.connect(data_dir / f"{ATTACKED}.sqlite") as conn:
        rows = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = ? ORDER BY rowid", (DECISION_TOPIC,)
        ).fetchall()
    rows = [(rowid, decision_pb2.DecisionRecorded.FromString(state)) for rowid, state in rows]
    return sorted(rows, key=lambda row: row[1].sequence)


def write_rows(data_dir: Path, rows: list[tuple[int, decision_pb2.DecisionRecorded]]) -> None:
    with sqlite3.connect(data_dir / f"{ATTACKED}.sqlite") as conn:
        for rowid, record in rows:
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (record.SerializeToString(), rowid))


def delete_rows(data_dir: Path, rowids: list[int]) -> None:
    with sqlite3.connect(data_dir / f"{ATTACKED}.sqlite") as conn:
        for rowid in rowids:
            assert conn.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,)).rowcount == 1


def recompute(rows: list[tuple[int, decision_pb2.DecisionRecorded]], start: int) -> None:
    """Renumber and rehash the chain from rows[start] on, as whoever edited it would (no key needed)."""
    head = rows[start - 1][1].hash if start else ""
    for i in range(start, len(rows)):
        record = rows[i][1]
        record.sequence, record.prev_hash = (rows[i - 1][1].sequence + 1 if i else 1), head
        record.hash = head = record_hash(record)


def rewrite_witness(data_dir: Path, record: decision_pb2.DecisionRecorded, keep_signature: bool = True) -> None:
    """The witness moved to this record, its other fields (an old signature) kept or dropped."""
    path = witness_path(data_dir, ATTACKED)
    fields = json.loads(path.read_text()) if keep_signature else {}
    path.write_text(json.dumps({**fields, "sequence": record.sequence, "hash": record.hash}))


def attacked(pristine: dict, tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(pristine["data_dir"], data_dir)
    return data_dir


def verify_fails(data_dir: Path) -> list[str]:
    with running_platform(data_dir) as platform:
        result = run_cli(platform, "audit", "verify")
    found = [line for line in (result.stderr + result.stdout).splitlines() if line.startswith("FAIL")]
    assert result.returncode != 0 and found, "the tampering went unnoticed: " + result.stdout + result.stderr
    assert all(f" {ATTACKED}" in line for line in found), found
    return found


def test_the_newest_decision_deleted_with_the_witness(pristine, tmp_path):
    data_dir = attacked(pristine, tmp_path)
    rowid, newest = decision_rows(data_dir)[-1]
    delete_rows(data_dir, [rowid])
    witness_path(data_dir, ATTACKED).unlink()
    found = verify_fails(data_dir)
    # Restarted without its witness, segment's chain ends before the head activation witnessed
    # (or, had it decided anything since, holds another record in the newest's place).
    assert any("activation's store" in line and f"#{newest.sequence}" in line for line in found), found


def test_the_newest_decision_deleted_and_the_witness_rewritten_to_the_previous_head(pristine, tmp_path):
    data_dir = attacked(pristine, tmp_path)
    rows = decision_rows(data_dir)
    delete_rows(data_dir, [rows[-1][0]])
    rewrite_witness(data_dir, rows[-2][1])
    found = verify_fails(data_dir)
    assert any("activation's store" in line and f"#{rows[-1][1].sequence}" in line for line in found), found


def test_truncated_back_to_an_older_genuine_signed_witness(pristine, tmp_path):
    data_dir = attacked(pristine, tmp_path)
    older = pristine["older_witness"]
    rows = decision_rows(data_dir)
    delete_rows(data_dir, [rowid for rowid, r in rows if r.sequence > older["sequence"]])
    witness_path(data_dir, ATTACKED).write_text(json.dumps(older))  # signed, and its signature verifies
    found = verify_fails(data_dir)
    # Segment goes on from the older head once restarted: its chain ends before activation's newest
    # signed head, or holds other records at its place.
    assert any(
        "activation's store" in line and ("newest records were removed" in line or "log was rewritten" in line)
        for line in found
    ), found


def test_the_caller_changed_and_the_hashes_and_witness_recomputed(pristine, tmp_path):
    data_dir = attacked(pristine, tmp_path)
    rows = decision_rows(data_dir)
    newest = rows[-1][1]
    assert newest.caller == REFUSED
    newest.caller = "mia0@example.com"  # as if a marketer had tried
    recompute(rows, len(rows) - 1)
    write_rows(data_dir, rows[-1:])
    rewrite_witness(data_dir, newest)  # the old signature kept: it no longer verifies
    found = verify_fails(data_dir)
    assert any(
        f"segment decision #{newest.sequence} " in line
        and "not the record witnessed signed in activation's store" in line
        for line in found
    ), found
    assert not any("reproduces" in line for line in found)


@pytest.mark.parametrize(
    "field", ["decision_id", "entrypoint", "input", "result", "revision", "decided_at", "caller", "service"]
)
def test_any_field_of_a_middle_record_edited(pristine, tmp_path, field):
    data_dir = attacked(pristine, tmp_path)
    rows = decision_rows(data_dir)
    middle = len(rows) // 2
    record = rows[middle][1]
    original = getattr(record, field)
    setattr(record, field, json.dumps({"edited": original}) if field in ("input", "result") else original + "x")
    write_rows(data_dir, [rows[middle]])
    found = verify_fails(data_dir)
    assert any(f"segment decision #{record.sequence} " in line and "was edited" in line for line in found), found

    # The same edit with the chain after it recomputed: the peer's signed heads still tell.
    recompute(rows, middle)
    write_rows(data_dir, rows[middle:])
    rewrite_witness(data_dir, rows[-1][1], keep_signature=False)
    found = verify_fails(data_dir)
    assert any("not the record witnessed signed in activation's store" in line for line in found), found
    assert any("segment signed head" in line and "witness file" in line for line in found), found


def test_a_middle_record_removed(pristine, tmp_path):
    data_dir = attacked(pristine, tmp_path)
    rows = decision_rows(data_dir)
    middle = len(rows) // 2
    removed = rows.pop(middle)
    delete_rows(data_dir, [removed[0]])
    found = verify_fails(data_dir)
    assert any(
        f"segment decision #{removed[1].sequence + 1} " in line and "a record before it is missing" in line
        for line in found
    ), found

    # Removed and the chain renumbered and rehashed after it: the peer's signed heads still tell.
    recompute(rows, middle)
    write_rows(data_dir, rows[middle:])
    rewrite_witness(data_dir, rows[-1][1], keep_signature=False)
    found = verify_fails(data_dir)
    # Which it says depends on the heads the peer recorded (it is sent only the newest, every
    # 0.2 s at most): one in the rewritten range shows a record rewritten, the newest alone a
    # shorter chain.
    told = ("the log was rewritten", "the newest records were removed")
    assert any("activation's store" in line and any(t in line for t in told) for line in found), found


def test_a_witness_signed_with_another_key_is_caught(pristine, tmp_path):
    """The attacker may make a key of their own; only segment's verifies."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cdp.platform.heads import sign_head

    data_dir = attacked(pristine, tmp_path)
    rows = decision_rows(data_dir)
    delete_rows(data_dir, [rows[-1][0]])
    forged = sign_head(Ed25519PrivateKey.generate(), ATTACKED, rows[-2][1].sequence, rows[-2][1].hash)
    witness_path(data_dir, ATTACKED).write_text(json.dumps(forged.as_dict()))
    found = verify_fails(data_dir)
    assert any("activation's store" in line for line in found), found
    assert any("segment's witness file: its signature does not verify" in line for line in found), found


def test_a_peer_records_only_heads_signed_by_the_service_that_sends_them(tmp_path):
    """WitnessHead takes a head from the service it is of, signed with that service's key."""
    import grpc
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cdp.api.ops.v1 import ops_pb2_grpc
    from cdp.platform.heads import ensure_head_key, sign_head
    from cdp.platform.security import credentials

    data_dir = tmp_path / "data"
    with running_platform(data_dir) as platform, Client(platform) as client:
        key = ensure_head_key(data_dir, ATTACKED)  # made by segment at its start
        assert key is not None

        def witness(head, identity: str = ATTACKED, metadata=None) -> grpc.StatusCode:
            creds = credentials(data_dir).client(identity)
            with grpc.secure_channel(platform.address("activation"), creds) as channel:
                try:
                    ops_pb2_grpc.OpsServiceStub(channel).WitnessHead(
                        ops_pb2.WitnessHeadRequest(head=head.as_proto()), metadata=metadata, timeout=10
                    )
                except grpc.RpcError as error:
                    return error.code()
            return grpc.StatusCode.OK

        forged = sign_head(Ed25519PrivateKey.generate(), ATTACKED, 999, "ab" * 32)
        assert witness(forged) == grpc.StatusCode.INVALID_ARGUMENT
        genuine = sign_head(key, ATTACKED, 998, "cd" * 32)
        assert witness(genuine, identity="profile") == grpc.StatusCode.PERMISSION_DENIED  # not profile's head
        assert witness(genuine) == grpc.StatusCode.OK
        recorded = [m.head for m in client.read_messages("activation", ops_pb2.HeadWitnessed)]
        assert [h.sequence for h in recorded if h.sequence >= 998] == [998]
        # A person may not call it at all, an admin neither.
        admin = platform.metadata("mia@example.com", ["admin"])
        assert witness(genuine, identity="cli", metadata=admin) == grpc.StatusCode.PERMISSION_DENIED
