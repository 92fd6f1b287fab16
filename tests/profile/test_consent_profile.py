"""Consent on the profile: from both SDK forms, with provenance, published with every change, the
latest by timestamp winning, and the same after a rebuild from profile's own log and after a merge."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.config import StoreConfig
from cdp.platform.published import decode
from cdp.platform.store import open_store
from cdp.profile.application import ProfileApp
from support.kernel import unit_of_work

U, A = (str(uuid.UUID(int=i)) for i in (1, 2))
U1, A1 = ("user_id", "u1"), ("anonymous_id", "a1")
SEGMENT = {"consent": {"categoryPreferences": {"Advertising": True, "Analytics": True}}}
RUDDER = {"consentManagement": {"provider": "oneTrust", "allowedConsentIds": ["C0002"], "deniedConsentIds": ["C0004"]}}


class FakeIdentity:
    def __init__(self, owner):
        self.owner = owner

    async def resolve(self, identifiers, after_position: int = 0):
        return {k: self.owner[k] for k in identifiers if k in self.owner}


def call(event_id: str, key, second: int, context: dict, source_id: str = "web") -> collector_pb2.EventAccepted:
    who = {"user_id": key[1]} if key[0] == "user_id" else {"anonymous_id": key[1]}
    event = event_pb2.Event(
        type="track",
        event="Viewed",
        message_id=event_id,
        timestamp=f"2026-01-01T00:00:{second:02d}.000Z",
        context=json.dumps(context),
        **who,
    )
    return collector_pb2.EventAccepted(event_id=event_id, source_id=source_id, event=event)


class Harness:
    def __init__(self, root: Path, owner):
        self.store = open_store(StoreConfig(kind="sqlite", data_dir=root), "profile")
        self.uow = unit_of_work(self.store)
        self.identity = FakeIdentity(owner)
        self.app = ProfileApp(self.uow, self.identity)
        self.position = 0

    async def feed(self, handler, *messages) -> list:
        notes = []
        for m in messages:
            self.position += 1
            notes.append(
                eventlog_pb2.Notification(
                    id=self.position,
                    topic=m.DESCRIPTOR.full_name,
                    originator_id=str(uuid.uuid4()),
                    originator_version=1,
                    payload=m.SerializeToString(),
                )
            )
        async with self.uow.transaction() as tx:
            events = await handler(notes)
            tx.add(events)
        return [decode(e.topic, e.state) for e in events]

    def consent(self, person_id: str) -> dict:
        [profile] = self.app.snapshots([person_id])
        return {k: (v.granted, v.event_id, v.source, v.form) for k, v in profile.consent.items()}


def run(tmp_path, owner, scenario):
    async def main():
        h = Harness(tmp_path, owner)
        try:
            await scenario(h)
        finally:
            h.store.close()

    asyncio.run(main())


def changed(out) -> list[pb.Profile]:
    return [m.profile for m in out if isinstance(m, pb.ProfileChanged)]


def test_both_forms_give_consent_with_provenance_and_survive_a_rebuild(tmp_path):
    async def scenario(h: Harness):
        out = await h.feed(h.app.handle_collected, call("e1", U1, 1, SEGMENT), call("e2", U1, 2, RUDDER, "server"))
        [published] = changed(out)
        assert published.consent["C0004"] == pb.ConsentState(
            granted=False, event_id="e2", at="2026-01-01T00:00:02.000Z", source="oneTrust", form="consentManagement"
        )
        assert h.consent(U) == {
            "Advertising": (True, "e1", "web", "categoryPreferences"),
            "Analytics": (True, "e1", "web", "categoryPreferences"),
            "C0002": (True, "e2", "oneTrust", "consentManagement"),
            "C0004": (False, "e2", "oneTrust", "consentManagement"),
        }
        rebuilt = ProfileApp(h.uow, h.identity)
        assert rebuilt.snapshots([U]) == h.app.snapshots([U])
        assert rebuilt.state.profile(U).consent == h.app.state.profile(U).consent

    run(tmp_path, {U1: U}, scenario)


def test_a_revocation_publishes_the_profile_and_a_late_older_call_does_not_overwrite_it(tmp_path):
    async def scenario(h: Harness):
        await h.feed(h.app.handle_collected, call("e1", U1, 1, SEGMENT))
        revoked = {"consent": {"categoryPreferences": {"Advertising": False}}}
        [published] = changed(await h.feed(h.app.handle_collected, call("e3", U1, 3, revoked)))
        assert not published.consent["Advertising"].granted and published.consent["Analytics"].granted
        # A call from before the revocation arrives late: the newer choice stands.
        late = {"consent": {"categoryPreferences": {"Advertising": True}}}
        await h.feed(h.app.handle_collected, call("e2", U1, 2, late))
        assert h.consent(U)["Advertising"] == (False, "e3", "web", "categoryPreferences")
        assert ProfileApp(h.uow, h.identity).state.profile(U).consent["Advertising"].event_id == "e3"

    run(tmp_path, {U1: U}, scenario)


def test_a_merge_keeps_the_latest_choice_of_either_person(tmp_path):
    async def scenario(h: Harness):
        granted = {"consent": {"categoryPreferences": {"Advertising": True}}}
        denied = {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}}
        await h.feed(h.app.handle_collected, call("e1", U1, 5, denied), call("e2", A1, 1, granted))
        assert h.consent(A)["Advertising"][0] is True
        merged = identity_pb2.PersonsMerged(
            survivor_id=U, merged_id=A, identifiers=[identity_pb2.Identifier(type="anonymous_id", value="a1")]
        )
        h.identity.owner[A1] = U
        await h.feed(h.app.handle_identity, merged)
        assert h.consent(U)["Advertising"] == (False, "e1", "web", "categoryPreferences")
        assert h.consent(U)["Analytics"][0] is True
        rebuilt = ProfileApp(h.uow, h.identity)
        assert rebuilt.state.profile(U).consent == h.app.state.profile(U).consent

    run(tmp_path, {U1: U, A1: A}, scenario)


def test_calls_without_consent_leave_it_alone(tmp_path):
    async def scenario(h: Harness):
        await h.feed(h.app.handle_collected, call("e1", U1, 1, SEGMENT))
        await h.feed(h.app.handle_collected, call("e2", U1, 9, {"page": {"path": "/"}}))
        await h.feed(h.app.handle_collected, call("e3", U1, 10, {"consent": {"categoryPreferences": "all"}}))
        assert h.consent(U)["Advertising"] == (True, "e1", "web", "categoryPreferences")

    run(tmp_path, {U1: U}, scenario)
