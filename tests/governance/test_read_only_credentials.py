"""A service whose credentials are on a truly read-only mount serves, call after call.

Every RPC records an access decision, and every recorded decision moves the decision log's head,
which the service witnesses in a file. Here each of 1,000 calls comes from a new subject, so each
one records a decision: none may fail, nothing may be written among the credentials, the witness
must be in the state directory, and the decision chain must come out whole (no record twice, no
gap). Where even the state directory is read-only the witness cannot be written: calls must go on
all the same, and the failure be said once in the log, not once a call.
"""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.client import NO_RETRY, CdpError, Connection
from cdp.platform.launcher import free_ports
from cdp.platform.security import bearer, mint_token
from cdp.platform.witness import read_head, witness_path
from conftest import drop_schemas, postgres_dsn
from support.deployment import (
    ServiceProcess,
    connection,
    issue_credentials,
    new_master_key,
    require_read_only_mounts,
    service_credentials,
    snapshot,
)

pytestmark = pytest.mark.e2e

CALLS = 1000
DECISION_TOPIC = decision_pb2.DecisionRecorded.DESCRIPTOR.full_name


def decision_log(cdp: Connection, token: str) -> list[decision_pb2.DecisionRecorded]:
    log = cdp.acting_as(token).eventlog("collector")
    return list(log.read_messages(decision_pb2.DecisionRecorded, timeout=30))


@pytest.mark.parametrize(
    "layout",
    [
        # As deploy/k8s ran it before the state directory existed: the data directory is the
        # read-only secret (PostgreSQL holds the stores), the witness goes to the state directory.
        pytest.param("data-dir-is-the-secret", marks=pytest.mark.postgres),
        # Credentials, data and state in three directories, SQLite stores.
        "three-directories",
        # The state directory is read-only too: the witness cannot be written at all.
        "state-read-only",
    ],
)
def test_read_only_credentials_serve_a_thousand_calls(tmp_path: Path, layout: str):
    require_read_only_mounts(tmp_path)
    full = issue_credentials(tmp_path / "issued")
    secret = service_credentials(full, "collector", tmp_path / "credentials")
    data, state = tmp_path / "data", tmp_path / "state"
    data.mkdir()
    state.mkdir()
    (port,) = free_ports(1)
    env = {"CDP_COLLECTOR_PORT": str(port), "CDP_MASTER_KEY": new_master_key()}
    read_only = [secret]
    prefix = ""
    if layout == "data-dir-is-the-secret":
        prefix = f"t{uuid.uuid4().hex[:8]}_"
        env |= {
            "CDP_STORE": "postgres",
            "CDP_POSTGRES_DSN": postgres_dsn(),
            "CDP_SCHEMA_PREFIX": prefix,
            "CDP_DATA_DIR": str(secret),
            "CDP_STATE_DIR": str(state),
        }
    else:
        env |= {"CDP_DATA_DIR": str(data), "CDP_CREDENTIALS_DIR": str(secret), "CDP_STATE_DIR": str(state)}
        if layout == "state-read-only":
            read_only.append(state)
    before = snapshot(secret)
    service = ServiceProcess("collector", env, tmp_path / "collector.log", read_only).start()
    address = f"127.0.0.1:{port}"
    try:
        # Not retried: every one of the calls must succeed the first time.
        with connection(full, "collector", address, retry=NO_RETRY) as cdp:
            service.wait_serving(cdp, time.monotonic() + 30)
            log = cdp.eventlog("collector")
            errors: list[str] = []
            for i in range(CALLS):
                token = mint_token(full, f"reader-{i}@example.com", ("privacy_officer",), ttl_s=300)
                try:
                    log.read(after=0, limit=1, metadata=bearer(token), timeout=10)
                except CdpError as error:
                    errors.append(f"call {i}: {error.code}: {error.details}")
            assert not errors, f"{len(errors)} of {CALLS} calls failed, first: {errors[0]}\n{service.log()[-3000:]}"
            records = decision_log(cdp, mint_token(full, "auditor@example.com", ("privacy_officer",)))
    finally:
        service.stop()
        if prefix:
            drop_schemas(postgres_dsn(), prefix)

    assert snapshot(secret) == before, "the service wrote among its credentials"
    # One record per decision, numbered 1..n without a gap, each chained to the one before.
    assert len(records) >= CALLS
    assert [r.sequence for r in records] == list(range(1, len(records) + 1))
    assert all(r.prev_hash == p.hash for p, r in itertools.pairwise(records))
    assert len({r.decision_id for r in records}) == len(records)
    witnessed = read_head(witness_path(state, "collector"))
    log = service.log()
    if layout == "state-read-only":
        assert witnessed is None
        assert log.count("decision-log witness") == 1, log[-3000:]
    else:
        assert witnessed == (records[-1].sequence, records[-1].hash)
        assert "decision-log witness" not in log
