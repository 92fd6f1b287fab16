"""Profile following the collector and identity, with identity faked: its Resolve answers and its
merges and splits are synthetic. Whatever order the two logs are followed in, the profiles are the
same, and they rebuild exactly from profile's own log."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.config import StoreConfig
from cdp.platform.personal import subject_of
from cdp.platform.published import decode, stored
from cdp.platform.readmodel import open_engine
from cdp.platform.store import open_store
from cdp.profile import domain, projections
from cdp.profile.application import IDENTITY_TOPICS, INTERNAL, PUBLISHED, ProfileApp, person_traits, to_proto
from support.kernel import unit_of_work

U, A, V, W, X = (str(uuid.UUID(int=i)) for i in (1, 2, 3, 4, 5))
U1, U2 = ("user_id", "u1"), ("user_id", "u2")
A1, A2, A3 = ("anonymous_id", "a1"), ("anonymous_id", "a2"), ("anonymous_id", "a3")
A4, A5, A6 = ("anonymous_id", "a4"), ("anonymous_id", "a5"), ("anonymous_id", "a6")


class FakeIdentity:
    """Identity's Resolve: the person of each key as identity holds it now."""

    def __init__(self) -> None:
        self.owner: dict[tuple[str, str], str] = {}
        self.asked: list[int] = []

    async def resolve(self, identifiers, after_position: int = 0):
        self.asked.append(after_position)
        return {k: self.owner[k] for k in identifiers if k in self.owner}


class Logs:
    """Notifications of the collector's and identity's logs, as a follower is handed them."""

    def __init__(self) -> None:
        self.position = 0

    def note(self, message) -> eventlog_pb2.Notification:
        self.position += 1
        return eventlog_pb2.Notification(
            id=self.position,
            topic=message.DESCRIPTOR.full_name,
            originator_id=str(uuid.uuid4()),
            originator_version=1,
            payload=message.SerializeToString(),
        )


def accepted(
    event_id: str, key: tuple[str, str], ts: int, type_: str = "track", **fields
) -> collector_pb2.EventAccepted:
    if "traits" in fields:
        fields["traits"] = json.dumps(fields["traits"])
    who = {"user_id": key[1]} if key[0] == "user_id" else {"anonymous_id": key[1]}
    event = event_pb2.Event(
        type=type_, message_id=event_id, timestamp=f"2026-01-01T00:00:{ts:02d}.000Z", **who, **fields
    )
    return collector_pb2.EventAccepted(event_id=event_id, source_id="web", event=event)


def ids(*keys) -> list[identity_pb2.Identifier]:
    return [identity_pb2.Identifier(type=t, value=v) for t, v in keys]


def merged(survivor: str, gone: str, *keys) -> identity_pb2.PersonsMerged:
    email = identity_pb2.Identifier(type="email", value="blind-index-hash")  # no call's key
    return identity_pb2.PersonsMerged(
        survivor_id=survivor, merged_id=gone, identifiers=[*ids(*keys), email], event_id=f"merge-{gone}"
    )


def split(person: str, *parts) -> identity_pb2.PersonSplit:
    return identity_pb2.PersonSplit(
        person_id=person,
        parts=[identity_pb2.PersonPart(person_id=p, identifiers=ids(*keys)) for p, keys in parts],
        reason="retracted",
        edge_id="edge-1",
    )


class Profile:
    """A profile application over its own store, fed by hand."""

    def __init__(self, root: Path):
        self.store = open_store(StoreConfig(kind="sqlite", data_dir=root), "profile")
        self.uow = unit_of_work(self.store)
        self.identity = FakeIdentity()
        self.app = ProfileApp(self.uow, self.identity)
        self.logs = Logs()

    async def calls(self, *calls: collector_pb2.EventAccepted) -> list:
        return await self._feed(self.app.handle_collected, calls)

    async def identity_events(self, *records) -> list:
        return await self._feed(self.app.handle_identity, records)

    async def _feed(self, handler, messages) -> list:
        async with self.uow.transaction() as tx:
            events = await handler([self.logs.note(m) for m in messages])
            tx.add(events)
        return [decode(e.topic, e.state) for e in events]

    def profile(self, person_id: str) -> pb.Profile:
        return self.app.snapshots([person_id])[0]

    def rebuilt(self) -> ProfileApp:
        return ProfileApp(self.uow, self.identity)

    def close(self) -> None:
        self.store.close()


def run(scenario):
    """Run an async scenario against a fresh profile application."""

    async def main():
        with tempfile.TemporaryDirectory() as root:
            profile = Profile(Path(root))
            try:
                return await scenario(profile)
            finally:
                profile.close()

    return asyncio.run(main())


def kinds(messages) -> Counter:
    """What a batch wrote of profile's state and snapshots (each batch of calls also writes one
    CallsObserved, for the timeline's read model: not counted here)."""
    return Counter(type(m).__name__ for m in messages if type(m).__name__ != "CallsObserved")


def same_state(a: ProfileApp, b: ProfileApp) -> None:
    assert a.state.partials == b.state.partials
    assert a.state.owner == b.state.owner
    assert a.state.absorbed == b.state.absorbed
    assert a.published == b.published
    assert {p: a.state.profile(p) for p in a.published} == {p: b.state.profile(p) for p in b.published}


def expected(person_id: str, calls, merged_ids=()) -> pb.Profile:
    """The profile of a person that had these calls from the start (and nothing moved)."""
    state = domain.ProfileState(person_id, merged_person_ids=sorted(merged_ids))
    for c in calls:
        domain.observe(
            state,
            call_type=c.event.type,
            event_name=c.event.event,
            timestamp=c.event.timestamp,
            source_id=c.source_id,
            event_id=c.event_id,
            traits=person_traits(c.event),
            subject=subject_of(c.event.user_id, c.event.anonymous_id),
        )
    return to_proto(state)


# Splits -----------------------------------------------------------------------------------------

FREE = accepted("e1", U1, 1, "identify", traits={"plan": "free"})
VIEW = accepted("e2", U1, 2, event="Viewed")
PRO = accepted("e3", A1, 3, "identify", traits={"plan": "pro"})
BUY = accepted("e4", A2, 4, event="Bought")


def test_a_split_recomputes_each_part_and_publishes_every_part_and_the_split():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: U, A2: U}
        await p.calls(FREE, VIEW, PRO, BUY)
        assert p.profile(U).traits["plan"].value == '"pro"'
        out = await p.identity_events(split(U, (U, [U1]), (A, [A1, A2])))
        # One PartObserved per key moved, the split, and one ProfileChanged per person.
        assert kinds(out) == {"PartObserved": 2, "ProfileSplit": 1, "ProfileChanged": 2}
        assert [m for m in out if isinstance(m, pb.ProfileSplit)] == [
            pb.ProfileSplit(person_id=U, part_person_ids=[U, A])
        ]
        assert [m.profile.person_id for m in out if isinstance(m, pb.ProfileChanged)] == [U, A]
        assert p.profile(U) == expected(U, [FREE, VIEW])
        assert p.profile(A) == expected(A, [PRO, BUY])
        assert p.profile(U).traits["plan"].value == '"free"'
        same_state(p.app, p.rebuilt())

    run(scenario)


def test_the_reduced_person_changes_even_when_the_split_names_only_the_new_part():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: U, A2: U}
        await p.calls(FREE, PRO, BUY)
        out = await p.identity_events(split(U, (A, [A2])))
        assert [m.profile.person_id for m in out if isinstance(m, pb.ProfileChanged)] == [U, A]
        assert p.profile(U) == expected(U, [FREE, PRO])  # a1 is not named: it stays
        assert p.profile(A) == expected(A, [BUY])

    run(scenario)


def test_a_merge_then_a_split_gives_back_both_profiles_as_they_were():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A}
        await p.calls(FREE, VIEW, PRO)
        before = {x: p.profile(x) for x in (U, A)}
        out = await p.identity_events(merged(U, A, A1))
        assert kinds(out) == {"PartObserved": 1, "ProfileMerged": 1, "ProfileChanged": 1}
        assert p.profile(U) == expected(U, [FREE, VIEW, PRO], merged_ids=[A])
        assert p.app.snapshots([A]) == []
        await p.identity_events(split(U, (U, [U1]), (A, [A1])))
        assert {x: p.profile(x) for x in (U, A)} == before
        same_state(p.app, p.rebuilt())

    run(scenario)


def test_a_merge_that_names_no_key_takes_every_key_of_the_merged_person():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A, A2: A}
        await p.calls(FREE, PRO, BUY)
        await p.identity_events(identity_pb2.PersonsMerged(survivor_id=U, merged_id=A))
        assert p.profile(U) == expected(U, [FREE, PRO, BUY], merged_ids=[A])

    run(scenario)


def test_a_key_identity_now_gives_another_person_takes_its_partial_there():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A}
        await p.calls(FREE, PRO)
        # Identity merged a (and its key) into u before profile follows the merge: the next call
        # of a1 is answered with u, and the partial moves with it.
        p.identity.owner[A1] = U
        again = accepted("e5", A1, 5)
        out = await p.calls(again)
        assert kinds(out) == {"PartObserved": 1, "ProfileChanged": 2}
        assert p.profile(U) == expected(U, [FREE, PRO, again])
        assert p.profile(A) == expected(A, [])
        out = await p.identity_events(merged(U, A, A1))
        assert kinds(out) == {"ProfileMerged": 1, "ProfileChanged": 1}  # no key moved
        assert p.profile(U) == expected(U, [FREE, PRO, again], merged_ids=[A])

    run(scenario)


def test_a_batch_of_identity_events_writes_one_part_per_key_and_one_snapshot_per_person_left():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A}
        await p.calls(FREE, PRO)
        out = await p.identity_events(merged(U, A, A1), split(U, (A, [A1])), merged(U, A, A1))
        assert kinds(out) == {"ProfileMerged": 2, "ProfileSplit": 1, "PartObserved": 1, "ProfileChanged": 1}
        assert [m.profile.person_id for m in out if isinstance(m, pb.ProfileChanged)] == [U]
        assert p.profile(U) == expected(U, [FREE, PRO], merged_ids=[A])
        assert p.app.snapshots([A]) == []
        same_state(p.app, p.rebuilt())

    run(scenario)


def test_a_person_merged_away_gets_no_snapshot_when_a_call_shows_its_key_elsewhere():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A, A2: A}
        await p.calls(FREE, PRO, BUY)
        await p.identity_events(merged(U, A, A1))  # a2 not named: it stays a's, as far as profile knows
        p.identity.owner[A2] = U
        again = accepted("e5", A2, 5)
        out = await p.calls(again)
        assert [m.profile.person_id for m in out if isinstance(m, pb.ProfileChanged)] == [U]
        assert p.profile(U) == expected(U, [FREE, PRO, BUY, again], merged_ids=[A])
        assert p.app.snapshots([A]) == []

    run(scenario)


def test_a_batch_writes_one_part_per_key_and_one_snapshot_per_person():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: U, A2: A}
        calls = [accepted(f"e{i}", (U1, A1, A2)[i % 3], i) for i in range(30)]
        out = await p.calls(*calls)
        assert kinds(out) == {"PartObserved": 3, "ProfileChanged": 2}
        assert p.identity.asked == [30]  # read-your-writes: resolved after the batch's position

    run(scenario)


def test_a_call_of_a_persons_only_key_writes_its_profile_alone_and_the_partial_rebuilds_from_it():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A, A2: A}
        await p.calls(FREE, PRO, BUY)
        out = await p.calls(VIEW, accepted("e7", A1, 7))
        assert kinds(out) == {"PartObserved": 1, "ProfileChanged": 2}  # a has two keys, u one
        assert [m.key_value for m in out if isinstance(m, pb.PartObserved)] == ["a1"]
        same_state(p.app, p.rebuilt())
        assert p.rebuilt().state.partials[U1].event_counts == {"$identify": 1, "Viewed": 1}

    run(scenario)


def test_forgetting_a_subject_erases_its_partials_so_a_split_does_not_bring_a_value_back():
    async def scenario(p: Profile):
        token = '"pii:v1:sealed"'
        p.identity.owner = {U1: U, A1: U}
        email = accepted("e9", U1, 9, "identify", traits={"email": json.loads(token)})
        await p.calls(email, PRO)
        out = await p.identity_events(identity_pb2.SubjectForgotten(person_id=U))
        assert kinds(out) == {"PartObserved": 1, "ProfileChanged": 1}
        assert p.profile(U).traits["email"].erased
        await p.identity_events(split(U, (V, [U1])))
        assert p.profile(V).traits["email"].erased and p.profile(V).traits["email"].value == "null"
        assert all(
            not partial.traits.get("email") or partial.traits["email"].erased
            for partial in p.app.state.partials.values()
        )

    run(scenario)


def test_profiles_stored_before_partials_were_are_kept_whole_and_go_with_their_person():
    async def scenario(p: Profile):
        # As profile wrote them before: snapshots and merges, no PartObserved.
        legacy_u, legacy_a = expected(U, [FREE, VIEW]), expected(A, [PRO])
        p.store.append(
            [
                stored(uuid.UUID(U), 1, pb.ProfileChanged(profile=legacy_u)),
                stored(uuid.UUID(A), 1, pb.ProfileChanged(profile=legacy_a)),
                stored(uuid.UUID(V), 1, pb.ProfileChanged(profile=expected(V, [BUY]))),
                stored(uuid.UUID(V), 2, pb.ProfileMerged(survivor_id=U, merged_id=V)),
                stored(uuid.UUID(U), 2, pb.ProfileChanged(profile=expected(U, [FREE, VIEW, BUY], merged_ids=[V]))),
            ]
        )
        p.app = p.rebuilt()
        assert p.profile(U) == expected(U, [FREE, VIEW, BUY], merged_ids=[V])
        assert p.profile(A) == legacy_a
        p.identity.owner = {U1: U, A1: A}
        late = accepted("e9", U1, 9)
        await p.calls(late)
        assert p.profile(U) == expected(U, [FREE, VIEW, BUY, late], merged_ids=[V])
        await p.identity_events(merged(U, A, A1))
        assert p.profile(U) == expected(U, [FREE, VIEW, BUY, late, PRO], merged_ids=[A, V])
        same_state(p.app, p.rebuilt())
        # A split can give back only what was kept per key since: the rest stays with the id.
        await p.identity_events(split(U, (A, [A1])))
        assert p.profile(A) == expected(A, [])
        assert p.profile(U) == expected(U, [FREE, VIEW, BUY, late, PRO], merged_ids=[V])
        same_state(p.app, p.rebuilt())

    run(scenario)


def test_profile_follows_identitys_splits_and_its_followers_see_no_partials():
    assert identity_pb2.PersonSplit.DESCRIPTOR.full_name in IDENTITY_TOPICS
    assert not set(INTERNAL) & set(PUBLISHED)
    assert pb.ProfileSplit.DESCRIPTOR.full_name in PUBLISHED


def test_the_read_model_serves_a_restored_person_again(tmp_path):
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A}
        await p.calls(FREE, PRO)
        await p.identity_events(merged(U, A, A1))
        engine = open_engine(StoreConfig(kind="sqlite", data_dir=tmp_path), "profile-read")
        projections.metadata.create_all(engine)
        queries = projections.ProfileQueries(engine)
        with engine.begin() as conn:
            projections.apply(conn, list(p.store.read(0, 1000, PUBLISHED)))
        assert queries.get(A) == p.profile(U)  # followed to the survivor
        position = p.store.head()
        await p.identity_events(split(U, (A, [A1])))
        with engine.begin() as conn:
            projections.apply(conn, list(p.store.read(position, 1000, PUBLISHED)))
        assert queries.get(A) == p.profile(A) == expected(A, [PRO])
        with engine.connect() as conn:  # no record of its merge is left
            assert conn.execute(projections.merged.select()).all() == []
        assert queries.get(U) == p.profile(U) == expected(U, [FREE])
        engine.dispose()

    run(scenario)


# Any interleaving of the two logs gives the same profiles ---------------------------------------

# Identity's history: calls (each linked as identity follows the collector), merges and splits.
# A call's key joins a person without an event (identity links it to what it was seen with).
HISTORY: list = [
    ("call", accepted("h1", A1, 1, "identify", traits={"plan": "free"}), A),
    ("call", accepted("h2", U1, 2), U),
    ("call", accepted("h3", A1, 3), A),
    ("event", merged(U, A, A1), {A1: U}),
    ("call", accepted("h4", A2, 4, "identify", traits={"plan": "pro"}), U),
    ("call", accepted("h5", U1, 5, "identify", traits={"email": "pii:v1:t"}), U),
    ("event", split(U, (U, [U1]), (A, [A1, A2])), {A1: A, A2: A}),
    ("call", accepted("h6", A2, 6, event="Bought"), A),
    ("call", accepted("h6b", A3, 6, "identify", traits={"plan": "trial"}), A),  # a new key joins a restored a
    ("call", accepted("h7", U2, 7, "identify", traits={"plan": "team"}), V),
    ("call", accepted("w1", A4, 10, "identify", traits={"plan": "free"}), W),
    ("call", accepted("x1", A5, 11, "identify", traits={"plan": "pro"}), X),
    ("event", merged(W, X, A5), {A5: W}),
    ("event", split(W, (X, [A5])), {A5: X}),
    ("call", accepted("x2", A6, 12), X),  # joins x when no event will name it: its call says where it is
    ("event", merged(V, U, U1), {U1: V}),
    ("event", merged(V, A, A1, A2, A3), {A1: V, A2: V, A3: V}),
    ("event", split(V, (U, [U1]), (A, [A1, A2, A3])), {U1: U, A1: A, A2: A, A3: A}),  # v's own part unnamed
    ("event", merged(U, A, A1, A2, A3), {A1: U, A2: U, A3: U}),
    ("call", accepted("h8", A1, 8, "page"), U),
]
CALLS = {p: [s[1] for s in HISTORY if s[0] == "call" and s[1].event_id[0] == p] for p in "hwx"}
EXPECTED = {
    U: expected(U, [c for c in CALLS["h"] if c.event.user_id != "u2"], merged_ids=[A]),
    V: expected(V, [c for c in CALLS["h"] if c.event.user_id == "u2"]),
    W: expected(W, CALLS["w"]),
    X: expected(X, CALLS["x"]),
}


def owners_after(steps: int) -> dict:
    owner: dict = {}
    for kind, message, change in HISTORY[:steps]:
        if kind == "call":
            key = domain.key_of(message.event.user_id, message.event.anonymous_id)
            owner.setdefault(key, change)
        else:
            owner.update(change)
    return owner


async def follow(p: Profile, choices: list[int]) -> None:
    """Profile follows both logs in the order the choices make (then calls first), identity never
    behind a call it is asked about (Resolve waits for it) nor behind an event profile has read."""
    calls = [i for i, step in enumerate(HISTORY) if step[0] == "call"]
    events = [i for i, step in enumerate(HISTORY) if step[0] == "event"]
    now = 0  # how many steps of its history identity has taken
    choices = list(reversed(choices))
    while calls or events:
        choice = choices.pop() if choices else 1
        kind, size = choice % 3, 1 + choice // 3
        published = bool(events) and events[0] < now
        if kind == 0 and now < len(HISTORY):
            now += 1
        elif (kind == 2 and published) or (published and not calls):
            await p.identity_events(HISTORY[events.pop(0)][1])
        elif calls:
            batch, calls = calls[:size], calls[size:]
            now = max(now, batch[-1] + 1)
            p.identity.owner = owners_after(now)
            await p.calls(*(HISTORY[i][1] for i in batch))
        else:
            now += 1  # only events are left, and the next is not published yet
        p.identity.owner = owners_after(now)


def test_following_identity_as_it_happens_gives_the_expected_profiles():
    async def scenario(p: Profile):
        for i, (kind, message, _) in enumerate(HISTORY):
            p.identity.owner = owners_after(i + 1)
            await (p.calls(message) if kind == "call" else p.identity_events(message))
        assert p.app.published == EXPECTED
        same_state(p.app, p.rebuilt())

    run(scenario)


def test_following_every_call_before_identity_gives_the_same_profiles():
    async def scenario(p: Profile):
        await follow(p, [])
        assert p.app.published == EXPECTED

    run(scenario)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=8), max_size=60))
def test_any_interleaving_of_calls_and_identity_events_gives_the_same_profiles(choices):
    async def scenario(p: Profile):
        await follow(p, choices)
        assert p.app.published == EXPECTED
        same_state(p.app, p.rebuilt())

    run(scenario)


# Accounts: a group call changes the account's traits (whoever sent it) and makes its sender a
# member; a merge or split moves memberships, whichever log is followed first.


def memberships(out) -> list[tuple[str, str, bool]]:
    return [(m.account_id, m.person_id, m.member) for m in out if isinstance(m, pb.AccountMembershipChanged)]


def group(event_id, key, ts, account, **traits):
    return accepted(event_id, key, ts, "group", group_id=account, traits=traits)


def test_a_group_call_changes_the_account_whoever_sends_it_and_makes_its_sender_a_member():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, U2: V}
        out = await p.calls(group("g1", U1, 1, "acme", plan="pro"))
        [changed] = [m for m in out if isinstance(m, pb.AccountChanged)]
        assert changed.account.group_id == "acme" and changed.cause_event_id == "g1"
        assert json.loads(changed.account.traits["plan"].value) == "pro"
        assert changed.account.traits["plan"].event_id == "g1"
        assert memberships(out) == [("acme", U, True)]
        # A second member with no traits changes no trait; an older value does not win.
        out = await p.calls(group("g2", U2, 3, "acme"), group("g0", U2, 0, "acme", plan="free"))
        assert not [m for m in out if isinstance(m, pb.AccountChanged)]
        assert memberships(out) == [("acme", V, True)]
        assert json.loads(p.app.accounts["acme"]["plan"].value) == "pro"
        assert p.rebuilt().accounts == p.app.accounts

    run(scenario)


def test_a_merge_followed_before_the_calls_show_it_moves_the_membership():
    async def scenario(p: Profile):
        p.identity.owner = {U1: U, A1: A}
        await p.calls(group("g1", A1, 1, "acme"), group("g2", U1, 2, "initech"))
        out = await p.identity_events(merged(U, A, A1))
        assert set(memberships(out)) == {("acme", A, False), ("acme", U, True)}
        out = await p.identity_events(split(U, (U, [U1]), (A, [A1])))
        assert set(memberships(out)) == {("acme", A, True), ("acme", U, False)}

    run(scenario)
