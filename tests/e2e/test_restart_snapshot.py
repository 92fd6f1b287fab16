"""End to end: identity restarted with a snapshot serves the same answers, folding only the tail.

Identity runs as a real process on a log with a history (written straight into its store) and
calls ingested through the collector; it writes a snapshot; stopped and started again, it starts
from that snapshot and the events after it, sooner than a fold of the whole log, and GetPerson and
Resolve answer exactly as before.
"""

from __future__ import annotations

import re

import pytest

from cdp.bench.restart import NO_SNAPSHOTS, SNAPSHOT_NOW, _snapshot
from cdp.bench.restart_logs import identity_log
from cdp.platform.config import StoreConfig
from cdp.platform.security import credentials
from cdp.platform.store import open_store
from support.calls import event, ident
from support.platform_fixture import Client, log_tails, new_platform, wait_until

pytestmark = pytest.mark.e2e
TS = "2026-12-01T10:00:00Z"
HISTORY = 20_000
REBUILT = re.compile(r"IdentityApp: state rebuilt in ([0-9.]+)s \(from the snapshot at (\d+), then (\d+) events\)")


def rebuilds(platform) -> list[tuple[float, int, int]]:
    text = platform.log_path("identity").read_text(errors="replace")
    return [(float(s), int(p), int(n)) for s, p, n in REBUILT.findall(text)]


def answers(client: Client, identifiers) -> list:
    resolved = client.identity.resolve(identifiers, timeout=10).resolutions
    persons = [r.person_id for r in resolved]
    return [persons, [client.identity.get_person(person_id=p, timeout=10) for p in persons if p]]


def test_identity_restarted_from_a_snapshot_answers_as_before(tmp_path):
    credentials(tmp_path)
    identity_log(tmp_path, HISTORY, lambda message: None)
    platform = new_platform(tmp_path)
    platform.env = dict(SNAPSHOT_NOW)
    try:
        for service in ("collector", "identity"):
            platform.start(service)
        platform.wait_healthy(["collector", "identity"], timeout=120)
        with Client(platform) as client:
            key = client.create_source("restart").write_key
            calls = [
                event("identify", "m1", TS, user_id="ada", anonymous_id="d1", traits={"email": "ada@example.com"}),
                event("identify", "m2", TS, user_id="bo", anonymous_id="d2", traits={"phone": "+33612345678"}),
                event(
                    "track",
                    "m3",
                    TS,
                    anonymous_id="d3",
                    event="Viewed",
                    context={"traits": {"email": "ADA@example.com"}},
                ),
            ]
            client.ingest(key, calls)
            asked = [
                ident("user_id", "ada"),
                ident("email", "ada@example.com"),
                ident("anonymous_id", "d3"),
                ident("phone", "+33612345678"),
                ident("user_id", "bench-user-7"),
                ident("anonymous_id", "bench-device-4000-3"),
                ident("user_id", "nobody"),
            ]
            wait_until(
                lambda: client.identity.resolve([asked[2]], timeout=10).resolutions[0].person_id, what="d3 linked"
            )
            before = answers(client, asked)
            assert before[0][0] == before[0][1] == before[0][2] != "" and before[0][-1] == ""
            store = open_store(StoreConfig(data_dir=tmp_path), "identity")
            head = store.head()
            store.close()
            wait_until(
                lambda: _snapshot(tmp_path, "identity")[0] >= head, timeout=60, what="a snapshot at identity's head"
            )
            position = _snapshot(tmp_path, "identity")[0]

            stopped = platform.processes.pop("identity")
            stopped.terminate()
            stopped.wait(30)
            platform.env = dict(NO_SNAPSHOTS)
            platform.start("identity")
            platform.wait_healthy(["identity"], timeout=60)
            client.reconnect("identity")
            assert answers(client, asked) == before
            # How much faster is for `cdp bench restart` to say; here, that the restart used the snapshot.
            (_, full_from, full_events), *_, (_, again_from, again_events) = rebuilds(platform)
            assert full_from == 0 and full_events >= HISTORY  # the first start folded the whole log
            assert again_from == position and again_events < 50  # the restart: the snapshot, and its tail
    except (RuntimeError, TimeoutError) as error:
        raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
    finally:
        platform.stop()
