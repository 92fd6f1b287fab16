"""Identity through the whole chain, in one process: the joins a real CDP must make and the ones it
must refuse, forgetting exactly one person, and suppression of what was forgotten."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.identity.application import IdentityApp
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from support.calls import event
from support.harness import Harness
from support.kernel import unit_of_work
from support.policies import with_identity_data

TS = "2026-11-30T10:00:00Z"
JUNK = ["undefined", "null", "0", "-1", "anonymous", "[object Object]", "00000000-0000-0000-0000-000000000000", " "]


def run(scenario):
    return asyncio.run(scenario())


def identify(message_id: str, **fields):
    return event("identify", message_id, TS, **fields)


def track(message_id: str, **fields):
    return event("track", message_id, TS, event="Viewed", **fields)


def persons_holding(h: Harness, kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for person, members in h.identity.graph.members.items():
        values = [v for t, v in members if t == kind]
        if values:
            out[person] = values
    return out


def clear_trait(h: Harness, person: str, name: str):
    """A profile trait in clear, as a reader allowed to see personal data would read it."""
    value = h.queries.get(person).traits[name]
    if value.erased:
        return None
    text = orjson.loads(value.value)
    if isinstance(text, str) and text.startswith("pii:v1:"):
        clear = h.vault.decrypt(value.subject, value.event_type, name, text)
        return None if clear is None else orjson.loads(clear)
    return text


def test_shared_devices_team_mailboxes_and_junk_ids_join_nobody(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            calls = [
                identify("k1", user_id="alice", anonymous_id="kiosk"),
                identify("k2", user_id="bob", anonymous_id="kiosk"),
            ]
            calls += [identify(f"qa{n}", user_id=f"qa-user-{n}", anonymous_id="qa-fixed") for n in range(30)]
            calls += [
                identify("m1", user_id="carol", traits={"email": "team@acme.io"}),
                identify("m2", user_id="dave", traits={"email": "TEAM@acme.io "}),
            ]
            calls += [identify(f"j{n}", user_id=f"junk-{n}", anonymous_id=junk) for n, junk in enumerate(JUNK)]
            calls += [identify("n1", user_id="1"), identify("n2", user_id="01"), identify("n3", user_id="1.0")]
            await h.ingest(key, calls)
            await h.settle()
            # No person holds two user ids, whatever the calls said.
            user_ids = persons_holding(h, "user_id")
            assert all(len(v) == 1 for v in user_ids.values())
            assert len(user_ids) == 2 + 30 + 2 + len(JUNK) + 3
            # Junk values are no identifiers at all.
            assert not {v for _, v in h.identity.graph.order} & {j.strip() for j in JUNK}
            # The shared ones stay with whoever came first; the refusals are recorded with why.
            assert h.identity.resolve("anonymous_id", "kiosk") == h.identity.resolve("user_id", "alice")
            assert h.identity.resolve("email", "team@acme.io") == h.identity.resolve("user_id", "carol")
            refused = [e for e in h.identity.graph.edges.values() if not e.active]
            assert len(refused) == 1 + 29 + 1
            assert all("at most 1 user_id" in e.reason and e.decision_id for e in refused)

    run(scenario)


def test_legitimate_joins_still_happen(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    track("t1", anonymous_id="browser-1"),
                    identify("i1", user_id="u1", anonymous_id="browser-1", traits={"email": "Ada@Example.com"}),
                    track("t2", anonymous_id="phone-app"),
                    event("alias", "a1", TS, user_id="u1", previous_id="phone-app"),
                    identify("i2", anonymous_id="laptop", context={"traits": {"email": " ada@example.COM"}}),
                    identify(
                        "i3",
                        user_id="u1",
                        traits={"phone": "+44 20 7946 0958"},
                        context={"externalIds": [{"id": "cus_42", "type": "stripe_customer_id"}]},
                    ),
                    identify("i4", anonymous_id="kiosk-2", traits={"phone": "+442079460958"}),
                ],
            )
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            for kind, value in [
                ("anonymous_id", "browser-1"),
                ("anonymous_id", "phone-app"),
                ("anonymous_id", "laptop"),
                ("email", "ADA@example.com"),
                ("phone", "+44 (20) 7946-0958"),
                ("stripe_customer_id", "cus_42"),
                ("anonymous_id", "kiosk-2"),
            ]:
                assert h.identity.resolve(kind, value) == person, (kind, value)
            # The person's events from before sign-in are on one profile.
            assert h.queries.get(person).event_counts["Viewed"] == 2
            # Explain: the path from the laptop to the user id goes through the email.
            path = h.identity.explain(("anonymous_id", "laptop"), ("user_id", "u1")).path
            assert [e.rule for e in path] == ["seen-together", "seen-together"]
            assert all(e.decision_id or e.active for e in path)

    run(scenario)


def test_forgetting_one_kiosk_user_leaves_the_other_intact_and_suppresses_the_forgotten(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    identify(
                        "a1", user_id="alice", anonymous_id="kiosk", traits={"email": "alice@x.io", "name": "Alice"}
                    ),
                    identify("b1", user_id="bob", anonymous_id="kiosk", traits={"email": "bob@x.io", "name": "Bob"}),
                ],
            )
            await h.settle()
            alice, bob = h.identity.resolve("user_id", "alice"), h.identity.resolve("user_id", "bob")
            assert alice != bob
            _, destroyed, _, suppressed = await h.identity.forget(alice, "privacy@x.io")
            assert destroyed >= 2 and suppressed == 2  # user id and email; the shared kiosk id is not
            await h.settle()
            assert clear_trait(h, bob, "email") == "bob@x.io" and clear_trait(h, bob, "name") == "Bob"
            assert clear_trait(h, alice, "email") is None and clear_trait(h, alice, "name") is None
            assert h.identity.resolve("email", "alice@x.io") is None
            assert h.identity.resolve("email", "bob@x.io") == bob

            # Alice comes back: her calls are dropped at the door, by user id or by email; bob's are not.
            before = h.stores["collector"].head()
            acks = await h.ingest(
                key,
                [
                    identify("a2", user_id="alice", traits={"plan": "pro"}),
                    identify("a3", anonymous_id="new-device", traits={"email": "Alice@X.io"}),
                    identify("b2", user_id="bob", anonymous_id="kiosk", traits={"plan": "team"}),
                ],
            )
            assert acks.accepted == 3
            stored = [decode(n.topic, n.state) for n in h.stores["collector"].read(before, 100)]
            dropped = [m for m in stored if isinstance(m, collector_pb2.EventSuppressed)]
            assert sorted((m.message_id, m.identifier_type) for m in dropped) == [("a2", "user_id"), ("a3", "email")]
            accepted = [m.event.message_id for m in stored if isinstance(m, collector_pb2.EventAccepted)]
            assert accepted == ["b2"]
            # No key was made again for the forgotten subject.
            with h.vault.table.engine.connect() as conn:
                assert not h.vault.table._select_active(conn, [h.vault.subject_hash("user_id:alice")])

            # A privacy officer lifts the suppression of the user id: alice's calls are taken again.
            assert await h.identity.lift_suppression("user_id", "alice", "consented again", "officer") is True
            assert await h.identity.lift_suppression("user_id", "alice", "twice", "officer") is False
            acks = await h.ingest(key, [identify("a4", user_id="alice", traits={"plan": "pro"})])
            stored = [decode(n.topic, n.state) for n in h.stores["collector"].read(before, 100)]
            assert "a4" in [m.event.message_id for m in stored if isinstance(m, collector_pb2.EventAccepted)]

    run(scenario)


def test_retract_split_and_history(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    identify("i1", user_id="u1", anonymous_id="a1"),
                    identify("i2", anonymous_id="a2", traits={"email": "x@y.io"}),
                    # A bad call joins the two (the email typed on u1's device by someone else).
                    identify("bad", anonymous_id="a1", traits={"email": "x@y.io"}),
                ],
            )
            await h.settle()
            u1 = h.identity.resolve("user_id", "u1")
            assert h.identity.resolve("anonymous_id", "a2") == u1
            (event_id,) = {
                e.event_id
                for e in h.identity.graph.edges.values()
                if e.a[0] == "email" and e.b == ("anonymous_id", "a1")
            }
            response = await h.identity.retract(
                "event_id", event_id, "typed by someone else", "GDPR Art. 16", "steward"
            )
            assert response.retracted == 1 and len(response.splits) == 1
            a2 = h.identity.resolve("anonymous_id", "a2")
            assert a2 != u1 and h.identity.resolve("user_id", "u1") == u1
            kinds = [e.kind for e in h.identity.history(u1)]
            assert kinds.count("merged") == 1 and "split" in kinds and "retracted" in kinds
            published = h.stores["identity"].read(0, 1000, topic_of(identity_pb2.PersonSplit))
            assert len(published) == 1
            # Splitting by hand: every identifier alone.
            splits = await h.identity.split(u1, None, "test", "steward")
            assert len(splits) == 1 and h.identity.resolve("anonymous_id", "a1") != u1
            with pytest.raises(InvalidArgument, match="identifiers"):
                await h.identity.split(u1, [("user_id", "nobody")], "", "steward")

    run(scenario)


def test_a_new_identity_policy_decides_the_evidence_again(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    identify("k1", user_id="alice", anonymous_id="kiosk"),
                    identify("k2", user_id="bob", anonymous_id="kiosk"),
                    identify("k3", user_id="carol", anonymous_id="c1"),
                ],
            )
            await h.settle()
            alice, bob = h.identity.resolve("user_id", "alice"), h.identity.resolve("user_id", "bob")
            assert alice != bob

            def two_user_ids(identity: dict) -> None:
                identity["types"]["user_id"]["limit"] = 2

            # The same store, under a policy that lets a person hold two user ids (a restart with it).
            uow = unit_of_work(
                h.stores["identity"], "identity", with_identity_data(tmp_path / "candidate", two_user_ids)
            )
            looser = IdentityApp(uow, h.vault, h.identity._index_key, h.identity.collector)
            stored = await looser.handle([])
            uow.commit(stored)
            assert looser.resolve("user_id", "bob") == looser.resolve("user_id", "alice") == alice
            merged = [decode(s.topic, s.state) for s in stored if s.topic == topic_of(identity_pb2.PersonsMerged)[0]]
            assert [(m.survivor_id, m.merged_id) for m in merged] == [(alice, bob)]
            # Once per revision: nothing more to decide, and a rebuild gives the same graph.
            assert await looser.handle([]) == []
            again = IdentityApp(uow, h.vault, h.identity._index_key, h.identity.collector)
            assert again.graph.person_of == looser.graph.person_of

    run(scenario)


def test_forgetting_the_second_kiosk_user_suppresses_their_own_identifiers(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    identify("a1", user_id="alice", anonymous_id="kiosk"),
                    identify("b1", user_id="bob", anonymous_id="kiosk", traits={"email": "bob@x.io"}),
                ],
            )
            await h.settle()
            bob = h.identity.resolve("user_id", "bob")
            _, _, identifiers, suppressed = await h.identity.forget(bob, "privacy@x.io")
            # Bob's user id and email; the kiosk is alice's, and bob's refused link to it does not make it his.
            assert (identifiers, suppressed) == (2, 2)

    run(scenario)


def test_a_mass_merge_waits_for_a_steward(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            calls = [identify(f"p{n}", anonymous_id=f"a{n}", traits={"email": f"m{n}@x.io"}) for n in range(4)]
            # One call naming four persons' anonymous ids: more than the breaker's 3 at once.
            calls.append(
                event(
                    "identify",
                    "big",
                    TS,
                    anonymous_id="a0",
                    context={"externalIds": [{"id": f"a{n}", "type": "anonymous_id"} for n in range(1, 4)]},
                )
            )
            await h.ingest(key, calls)
            await h.settle()
            assert len({h.identity.resolve("anonymous_id", f"a{n}") for n in range(4)}) == 4
            reviews = h.identity.reviews(10)
            assert len(reviews) == 3 and all(r.band == "hold" and "breaker" in r.evidence.reason for r in reviews)
            analyst = Caller("ana@x.io", ("analyst",), "user")
            with pytest.raises(PermissionDenied):
                await h.identity.decide_review(reviews[0].review_id, True, "", analyst)
            steward = Caller("sam@x.io", ("data_steward",), "user")
            for review in reviews:
                decided = await h.identity.decide_review(review.review_id, True, "checked by hand", steward)
                assert decided.decision_id
            assert len({h.identity.resolve("anonymous_id", f"a{n}") for n in range(4)}) == 1
            assert h.identity.reviews(10) == []
            kinds = [e.kind for e in h.identity.history(h.identity.resolve("anonymous_id", "a0"))]
            assert "held" in kinds and "approved" in kinds and kinds.count("merged") == 3

    run(scenario)


def test_a_call_with_a_junk_user_id_counts_for_its_anonymous_visitor(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [track("t1", user_id="u1", anonymous_id="a1")])
            await h.ingest(key, [track("t2", user_id="null", anonymous_id="a1"), track("t3", user_id="undefined")])
            await h.settle()
            person = h.identity.resolve("anonymous_id", "a1")
            assert h.queries.get(person).event_counts["Viewed"] == 2  # t3 has no person at all

    run(scenario)


def test_a_batch_is_checked_against_a_fresh_suppression_list_not_the_last_one_read(tmp_path):
    """The collector reads identity's list in the background; a batch arriving when that read is
    older than FRESH_WITHIN_S (the loop slow, identity just back) reads it again first."""
    from cdp.collector import suppression

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("c1", user_id="carol", traits={"email": "carol@x.io"})])
            await h.settle()
            await h.identity.forget(h.identity.resolve("user_id", "carol"), "privacy@x.io")
            h.suppressions.read_at -= suppression.FRESH_WITHIN_S  # as if last read before the forget
            before = h.stores["collector"].head()
            await h.collector.ingest_async(key, [identify("c2", user_id="carol", traits={"plan": "pro"})])
            stored = [decode(n.topic, n.state) for n in h.stores["collector"].read(before, 100)]
            assert [type(m).__name__ for m in stored] == ["EventSuppressed"]

    run(scenario)
