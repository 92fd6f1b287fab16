"""Identity's snapshot: the graph and its log written as data and read back answer exactly as the
graph folded from the log, now and after more evidence; restored from a real store beside a full
fold; and after a forget, a snapshot holds nothing of the forgotten person's personal values."""

from __future__ import annotations

import asyncio
import dataclasses

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.identity import domain, pages, snapshot
from cdp.identity.application import IdentityApp
from cdp.platform import snapshots as snapshots_module
from cdp.platform.snapshots import open_snapshots
from identity.test_domain import Limits, World, person_id, steps
from support.calls import event
from support.harness import Harness

TS = "2026-11-30T10:00:00Z"


def play(w: World, plan) -> None:
    for kind, arg in plan:
        if kind == "call":
            w.call(*arg)
        elif kind == "retract":
            live = [e.edge_id for e in w.graph.edges.values() if not e.retracted]
            if live:
                w.retract([live[arg % len(live)]])
        elif kind == "rules":
            w.policy = Limits([{"user_id": 1}, {"user_id": 2}, {"user_id": 1, "anonymous_id": 1}, {}][arg])
            simulated = domain.redecided(w.log, person_id, w.policy, w.edge_id, lambda ids: False, str)
            w.commit(domain.redecisions(w.graph, simulated, "policy", ""))
        elif w.graph.reviews:
            review = sorted(w.graph.reviews)[arg % len(w.graph.reviews)]
            w.commit([w.graph.review(review, arg % 2 == 0, "d", "steward", "", "", w.policy, lambda ids: False)])


def written(w: World, page_nodes: int) -> bytes:
    return snapshots_module.encode(pages.written(w.graph, page_nodes))


def restored(data: bytes, live: World) -> World:
    w = World(live.policy)
    w.graph, _ = pages.restored(snapshots_module.decode(data), person_id)
    w.log = list(live.log)  # identity reads it back from its store
    w.calls = 10_000  # later calls' event ids differ from the first ones, as in the live world
    return w


@settings(max_examples=200, deadline=None)
@given(steps, steps, st.sampled_from([1, 3, pages.PAGE_NODES]))
def test_a_restored_graph_equals_the_folded_one_now_and_after_more_evidence(before, after, page_nodes):
    live = World(Limits())
    play(live, before)
    data = written(live, page_nodes)
    assert snapshot.graph_data(restored(data, live).graph) == snapshot.graph_data(live.graph)
    # More evidence on a graph whose pages are read only as it touches them.
    back = restored(data, live)
    live.calls = 10_000
    play(live, after)
    play(back, after)
    assert list(back.graph.order) == list(live.graph.order)  # every page read: the fold's order
    assert list(back.graph.edges) == list(live.graph.edges)
    assert snapshot.graph_data(back.graph) == snapshot.graph_data(live.graph)
    assert back.graph.history == live.graph.history
    # And both equal the graph folded from the whole log.
    assert snapshot.graph_data(live.rebuilt()) == snapshot.graph_data(back.rebuilt())
    assert live.rebuilt().person_of == back.graph.person_of


def state(app: IdentityApp):
    """The state as its snapshot writes it (pages laid out, sections as read back)."""
    return snapshots_module.decode(snapshots_module.encode(app.snapshot_state()))


def test_a_copy_for_writing_shares_nothing_the_graph_changes_later():
    live = World(Limits())
    play(live, [("call", [("user_id", "u1"), ("anonymous_id", "a1")]), ("call", [("user_id", "u2")])])
    copy = pages.copied(live.graph)
    assert {f.name for f in dataclasses.fields(copy)} == {f.name for f in dataclasses.fields(live.graph)}
    assert snapshot.graph_data(copy) == snapshot.graph_data(live.graph)
    before = snapshot.graph_data(copy)
    play(
        live,
        [
            ("call", [("user_id", "u1"), ("anonymous_id", "a2")]),
            ("call", [("anonymous_id", "a2"), ("user_id", "u2")]),
            ("retract", 0),
        ],
    )
    assert snapshot.graph_data(copy) == before != snapshot.graph_data(live.graph)


def identify(message_id: str, **fields):
    return event("identify", message_id, TS, **fields)


def test_identity_restarts_from_a_snapshot_and_its_tail_as_from_the_whole_log(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", user_id="u1", anonymous_id="a1", traits={"email": "ada@example.com"})])
            await h.ingest(key, [identify("i2", user_id="u2", anonymous_id="a2", traits={"phone": "+33612345678"})])
            await h.settle()
            store = open_snapshots(h.config.store, "identity")
            app = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store)
            assert app.restored_from == 0  # none yet: the whole log
            position = await app.take_snapshot()
            assert position == h.stores["identity"].head()

            again = IdentityApp(
                h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store
            )
            assert again.restored_from == position
            person = h.identity.resolve("email", "ADA@example.com")
            assert person and again.resolve("email", "ada@example.com") == person
            assert again.resolve("phone", "+33612345678") == h.identity.resolve("phone", "+33612345678")
            assert again.person(person) == h.identity.person(person)
            assert state(again) == state(h.identity)
            assert again.versions == h.identity.versions

            # More evidence after the snapshot: the snapshot and the log's tail make the same state.
            await h.ingest(key, [identify("i3", user_id="u1", anonymous_id="a3", traits={"email": "bo@example.com"})])
            await h.ingest(key, [identify("i4", anonymous_id="a2", context={"traits": {"email": "ada@example.com"}})])
            await h.settle()
            tail = IdentityApp(
                h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store
            )
            full = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector)
            assert tail.restored_from == position < tail.position
            assert state(tail) == state(full) == state(h.identity)
            assert tail.versions == full.versions
            assert tail.log == full.log  # read back from the store, as a new policy would need it
            assert tail.personal_nodes == full.personal_nodes  # rebuilt by decrypting, as a full fold does
            assert tail.resolve("email", "bo@example.com") == full.resolve("email", "bo@example.com") == person
            store.close()

    asyncio.run(scenario())


def test_after_a_forget_the_next_snapshot_holds_nothing_personal_of_that_person(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            email, other = "ada@example.com", "bo@example.com"
            await h.ingest(key, [identify("i1", user_id="u1", anonymous_id="a1", traits={"email": email})])
            await h.ingest(key, [identify("i2", user_id="u2", anonymous_id="a2", traits={"email": other})])
            await h.settle()
            store = open_snapshots(h.config.store, "identity")
            app = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store)
            person = app.resolve("email", email)
            node = app._graph_identifier("email", email)
            token = app.sealed[node]
            blind = app.node_blind[node][1]
            before = snapshots_module.decode(app.encoded_snapshot())
            assert token in str(before)  # the token is there while the person is
            await app.forget(person, "privacy@example.com")
            position = await app.take_snapshot()
            found = store.load(app.snapshot_name, app.snapshot_shape(), position)
            assert found is not None
            text = str(found.state)
            assert token not in text  # nor its key: forget destroyed it in the vault, not here
            assert blind not in text and email not in text
            assert app._blind("email", other) not in text and other not in text  # no blind index, ever
            assert app.sealed[app._graph_identifier("email", other)] in text  # the other's token stays
            again = IdentityApp(
                h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store
            )
            assert again.restored_from == position
            assert again.resolve("email", email) is None and again.resolve("email", other) == app.resolve(
                "email", other
            )
            assert again.forgotten == {person: "privacy@example.com"}
            store.close()

    asyncio.run(scenario())


def _pages_cut_short(data: bytes) -> bytes:
    """The snapshot with its graph's last page cut off (and checksummed again, as if so written)."""
    state = snapshots_module.decode(data)
    graph = state["state"]["graph"]
    graph["pages"] = bytes(graph["pages"])[:-1]
    return snapshots_module.encode(state)


def test_a_snapshot_whose_pages_do_not_match_is_ignored_and_the_whole_log_folded(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", user_id="u1", anonymous_id="a1", traits={"email": "ada@example.com"})])
            await h.settle()
            store = open_snapshots(h.config.store, "identity")
            app = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store)
            position = await app.take_snapshot()
            table = snapshots_module.snapshots
            with store.engine.begin() as conn:
                data = conn.execute(sa.select(table.c.data).where(table.c.position == position)).scalar_one()
                bad = _pages_cut_short(data)
                conn.execute(
                    table.update()
                    .where(table.c.position == position)
                    .values(data=bad, checksum=snapshots_module.checksum(bad))
                )
            again = IdentityApp(
                h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector, snapshots=store
            )
            assert again.restored_from == 0
            assert state(again) == state(app)
            assert again.resolve("email", "ada@example.com") == app.resolve("email", "ada@example.com") is not None
            store.close()

    asyncio.run(scenario())


def test_a_restored_graph_answers_keys_of_no_page_and_keys_of_another_kind():
    live = World(Limits())
    play(live, [("call", [("user_id", "u1"), ("anonymous_id", "a1")]), ("call", [("user_id", "u2")])])
    back = restored(written(live, 1), live)
    assert back.graph.resolve(("user_id", "nobody")) is None and back.graph.members.get(None) is None
    assert back.graph.members.get("") is None and ("user_id", "u2") in back.graph.order
    assert back.graph.resolve(("anonymous_id", "a1")) == live.graph.resolve(("anonymous_id", "a1"))
    assert len(back.graph.order) == 3  # the identifiers of unread pages counted too
