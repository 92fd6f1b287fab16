"""The logs `cdp bench restart` starts each service from: written straight into the service's store
in large batches (not through ingest), the events as the service itself would have stored them for
persons seen on a few devices each.

Per person: identity, a call per device (the evidence graph folded here, a share of the persons
with an email sealed under its own key); profile, the partial of its user id and of one device and
a published profile after each; segment, four audiences entered; activation, two deliveries
scheduled and delivered. Each returns the number of persons written (profile's, segment's and
activation's into another store if given one: the tests of their snapshots write them on PostgreSQL).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cdp.api.activation.v1 import activation_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.identity import domain, translate
from cdp.identity.application import SEALED_CONTEXT, edge_id_for
from cdp.platform.config import StoreConfig
from cdp.platform.ids import derived_id
from cdp.platform.published import stored
from cdp.platform.store import open_store
from cdp.platform.vault import open_vault

DEVICES = 4  # calls a person: one per device, each a stored event
EMAIL_SHARE = 4  # one person in this many has an email (sealed: decrypted at every start)
BATCH = 5000
AT = "2026-12-01T00:00:00Z"
AUDIENCES = [str(derived_id("bench-audience", str(i))) for i in range(4)]
DESTINATION = str(derived_id("bench-destination", "webhook"))
SYNC = str(derived_id("bench-sync", "webhook"))

Progress = Callable[[str], None]


class _Link:
    """The bench's link policy: every link admitted (one recorded decision)."""

    def decide(self, proposal: domain.Proposal) -> domain.Verdict:
        return domain.Verdict(domain.LINK, (), "bench-link")


def _append(config: StoreConfig, service: str, events: int, persons: Iterator[list[Any]], progress: Progress) -> int:
    """Append each person's events (a person's all, or only as many as fit), BATCH at a time."""
    store = open_store(config, service)
    batch: list[Any] = []
    written = count = 0
    try:
        for records in persons:
            fits = records[: events - written]
            batch.extend(fits)
            written += len(fits)
            count += 1
            if len(batch) >= BATCH or written >= events:
                store.append(batch)
                batch = []
                if written % 100_000 < BATCH:
                    progress(f"  {written:,} events written")
            if written >= events:
                break
    finally:
        store.close()
    return count


def _person_id(person: int) -> str:
    return str(derived_id("bench-person", str(person)))


def identity_log(data_dir: Path, events: int, progress: Progress) -> int:
    vault = open_vault(StoreConfig(data_dir=data_dir))
    vault.first_kek()
    graph = domain.IdentityGraph(translate.new_person_id)
    policy = _Link()

    def persons() -> Iterator[list[Any]]:
        person = 0
        while True:
            # A chunk of persons at a time, their emails sealed in one key transaction.
            chunk: list[list[list[domain.Identifier]]] = []
            for p in range(person, person + BATCH // DEVICES):
                user = ("user_id", f"bench-user-{p}")
                calls = []
                for device in range(DEVICES):
                    ids: list[domain.Identifier] = [user, ("anonymous_id", f"bench-device-{p}-{device}")]
                    if device == 0 and p % EMAIL_SHARE == 0:
                        ids.append((domain.EMAIL, derived_id("bench-email", str(p)).hex))
                    calls.append(ids)
                chunk.append(calls)
            emails = [ids[2] for calls in chunk for ids in calls if len(ids) > 2]
            tokens = vault.encrypt_many(
                (f"{k}:{v}", SEALED_CONTEXT, k, f"person-{v[:12]}@example.com") for k, v in emails
            )
            sealed = dict(zip(emails, tokens, strict=True))
            for offset, calls in enumerate(chunk):
                records = []
                for number, ids in enumerate(calls):
                    event_id = f"bench-call-{person + offset}-{number}"
                    proposed = graph.propose_call(
                        ids,
                        event_id,
                        domain.SEEN_TOGETHER,
                        "bench",
                        policy,
                        functools.partial(edge_id_for, cause=event_id),
                        lambda identifiers: False,
                        AT,
                    )
                    for step in proposed:
                        graph.apply(step)
                    record = translate.call_record(event_id, proposed, sealed)
                    records.append(stored(derived_id("identity-call", event_id), 1, record))
                yield records
            person += len(chunk)

    return _append(StoreConfig(data_dir=data_dir), "identity", events, persons(), progress)


def _trait(value: str, event_id: str) -> profile_pb2.TraitValue:
    return profile_pb2.TraitValue(value=value, source_id="bench", event_id=event_id, updated_at=AT)


def profile_log(data_dir: Path, events: int, progress: Progress, config: StoreConfig | None = None) -> int:
    def persons() -> Iterator[list[Any]]:
        for p in range(1 << 62):
            person_id = _person_id(p)
            records: list[Any] = []
            whole = profile_pb2.Profile(person_id=person_id, first_seen=AT, last_seen=AT)
            for number, key in enumerate((("user_id", f"bench-user-{p}"), ("anonymous_id", f"bench-device-{p}-0"))):
                event_id = f"bench-call-{p}-{number}"
                partial = profile_pb2.Profile(
                    traits={"plan": _trait('"pro"', event_id), f"seen_{number}": _trait("true", event_id)},
                    event_counts={"Viewed": number + 1},
                    first_seen=AT,
                    last_seen=AT,
                )
                part = profile_pb2.PartObserved(key_type=key[0], key_value=key[1], person_id=person_id, partial=partial)
                records.append(stored(derived_id("profile-part", *key), 1, part))
                whole.traits.MergeFrom(partial.traits)
                whole.event_counts["Viewed"] = whole.event_counts["Viewed"] + number + 1
                changed = profile_pb2.ProfileChanged(profile=whole, cause_event_id=event_id, changed_at=AT)
                records.append(stored(uuid.UUID(person_id), number + 1, changed))
            yield records

    return _append(config or StoreConfig(data_dir=data_dir), "profile", events, persons(), progress)


def segment_log(data_dir: Path, events: int, progress: Progress, config: StoreConfig | None = None) -> int:
    def persons() -> Iterator[list[Any]]:
        for p in range(1 << 62):
            person_id = _person_id(p)
            yield [
                stored(
                    derived_id("membership", audience, person_id),
                    1,
                    segment_pb2.MembershipEntered(
                        audience_id=audience,
                        person_id=person_id,
                        audience_version=1,
                        cause_event_id=f"bench-call-{p}",
                        at=AT,
                        cause="profile",
                    ),
                )
                for audience in AUDIENCES
            ]

    return _append(config or StoreConfig(data_dir=data_dir), "segment", events, persons(), progress)


def activation_log(data_dir: Path, events: int, progress: Progress, config: StoreConfig | None = None) -> int:
    def persons() -> Iterator[list[Any]]:
        for p in range(1 << 62):
            person_id = _person_id(p)
            records: list[Any] = []
            for audience in AUDIENCES[:2]:
                delivery = derived_id("bench-delivery", DESTINATION, audience, person_id)
                scheduled = activation_pb2.DeliveryScheduled(
                    delivery_id=str(delivery),
                    destination_id=DESTINATION,
                    audience_id=audience,
                    person_id=person_id,
                    action="entered",
                    payload='{"traits":{"plan":"pro"}}',
                    decision_id="bench-egress",
                    scheduled_at=AT,
                    sync_id=SYNC,
                    fingerprint="bench",
                )
                attempted = activation_pb2.DeliveryAttempted(
                    delivery_id=str(delivery), attempt=1, ok=True, http_status=200, at=AT, latency_ms=1.0
                )
                records += [stored(delivery, 1, scheduled), stored(delivery, 2, attempted)]
            yield records

    return _append(config or StoreConfig(data_dir=data_dir), "activation", events, persons(), progress)


BUILDERS: dict[str, Callable[[Path, int, Progress], int]] = {
    "identity": identity_log,
    "profile": profile_log,
    "segment": segment_log,
    "activation": activation_log,
}
