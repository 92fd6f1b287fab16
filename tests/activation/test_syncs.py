"""Syncs in process: modes, mappings, pause and resume, and the destination's life (edit, pause,
410, delete), through the whole chain with a fake destination kind."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from cdp.activation import domain
from cdp.activation.queues import DeliveryWorker
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.platform.errors import Conflict, InvalidArgument
from support.calls import event, trait_condition
from support.harness import ADMIN, MARKETER, Harness

CALLS = itertools.count()


def identify(message_id: str, user: str, **traits):
    """An identify call, each later than the one before (a trait's newest value wins)."""
    ts = f"2026-11-30T10:{next(CALLS) % 60:02d}:00Z"
    return event("identify", message_id, ts, user_id=user, traits=traits)


def run(scenario):
    return asyncio.run(scenario())


async def destination(h: Harness, purpose: str = "support", **settings) -> pb.Destination:
    request = pb.CreateDestinationRequest(
        name="Hook", url="http://127.0.0.1:9/cdp", purpose=purpose, settings=pb.DestinationSettings(**settings)
    )
    return await h.activation.create_destination(request, ADMIN)


async def sync(h: Harness, destination_id: str, audience_id: str, mode: str, *fields: str, **constants: str):
    mapping = pb.Mapping(fields=[pb.FieldMapping(trait=f.split("=")[0], to=f.partition("=")[2]) for f in fields])
    mapping.constants.update(constants)
    request = pb.CreateSyncRequest(destination_id=destination_id, audience_id=audience_id, mode=mode, mapping=mapping)
    made = await h.activation.create_sync(request, ADMIN)
    if made.approval == "pending":
        [made] = await h.approve(made.sync_id)
    return made


def bodies(h: Harness) -> list[dict]:
    return [r["body"] for r in h.destination.received]


async def until(check, what: str, timeout: float = 5.0):
    for _ in range(int(timeout / 0.01)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"not reached: {what}")


def test_upsert_sends_mapped_changes_of_members_only(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", "u1", plan="pro", email="ada@example.com", age=30)])
            await h.settle()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            await h.settle()
            target = await destination(h)
            fields = ("email=Email", "plan")
            made = await sync(h, target.destination_id, audience.audience_id, "upsert", *fields, list='"pro"')
            await h.settle()
            [first] = bodies(h)
            assert first["type"] == "profile.upsert" and first["sync_id"] == made.sync_id
            assert first["traits"] == {"Email": "ada@example.com", "plan": "pro", "list": "pro"}

            # A trait the mapping does not select changes: nothing is sent.
            await h.ingest(key, [identify("i2", "u1", age=31)])
            await h.settle()
            assert len(bodies(h)) == 1

            # A mapped trait changes: the new record goes, under the mapped name.
            await h.ingest(key, [identify("i3", "u1", email="ada@new.example")])
            await h.settle()
            await until(lambda: len(bodies(h)) == 2, "the changed record")
            assert bodies(h)[1]["traits"]["Email"] == "ada@new.example"

            # Leaving the audience deletes the record (activation may see the profile change that
            # made the person leave before segment's exit: then that record goes first).
            await h.ingest(key, [identify("i4", "u1", plan="free")])
            await h.settle()
            await until(lambda: bodies(h)[-1]["type"] == "profile.delete", "the delete")
            assert bodies(h)[-1]["traits"] == {} and len(bodies(h)) in (3, 4)
            sent = len(bodies(h))
            await h.ingest(key, [identify("i5", "u1", email="ada@third.example")])
            await h.settle()
            await asyncio.sleep(0.05)
            assert len(bodies(h)) == sent  # no longer a member: nothing

    run(scenario)


def test_mirror_sends_all_members_then_changes_and_a_paused_sync_sends_the_difference(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify(f"i{n}", f"u{n}", plan="pro") for n in range(3)])
            await h.settle()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            await h.settle()
            target = await destination(h)
            made = await sync(h, target.destination_id, audience.audience_id, "mirror", "plan")
            await h.settle()
            person = {n: h.identity.resolve("user_id", f"u{n}") for n in range(3)}
            assert sorted(b["person_id"] for b in bodies(h)) == sorted(person[n] for n in range(3))
            assert {b["type"] for b in bodies(h)} == {"profile.upsert"}

            # Paused: u0 leaves, u3 joins, u1 leaves and comes back; nothing is sent.
            await h.activation.set_sync_state(made.sync_id, "pause")
            await h.ingest(key, [identify("j0", "u0", plan="free"), identify("j3", "u3", plan="pro")])
            await h.ingest(key, [identify("j1", "u1", plan="free")])
            await h.settle()
            await h.ingest(key, [identify("k1", "u1", plan="pro")])
            await h.settle()
            assert len(bodies(h)) == 3
            # Resumed: the difference against what the destination holds, nothing more.
            await h.activation.set_sync_state(made.sync_id, "resume")
            await h.settle()
            await until(lambda: len(bodies(h)) == 5, "the difference")
            person[3] = h.identity.resolve("user_id", "u3")
            assert sorted((b["type"], b["person_id"]) for b in bodies(h)[3:]) == sorted(
                [("profile.delete", person[0]), ("profile.upsert", person[3])]
            )
            # Deleting the destination is refused while the sync exists.
            with pytest.raises(Conflict, match="destination_id"):
                await h.activation.set_destination_state(target.destination_id, "delete")
            await h.activation.set_sync_state(made.sync_id, "delete")
            await h.activation.set_destination_state(target.destination_id, "delete")
            assert h.activation.list_destinations() == []

    run(scenario)


def test_a_person_waits_for_their_earlier_delivery_and_410_disables_until_resumed(tmp_path, monkeypatch):
    monkeypatch.setattr(domain, "FIRST_BACKOFF_S", 0.01)

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            target = await destination(h, "support")
            await sync(h, target.destination_id, audience.audience_id, "membership")
            await h.settle()
            h.destination.failures = 3  # the entry fails three times: the exit must wait for it
            await h.ingest(key, [identify("i1", "u1", plan="pro")])
            await h.settle()
            await h.ingest(key, [identify("i2", "u1", plan="free")])
            await h.settle()
            await until(lambda: len(bodies(h)) == 2, "both deliveries")
            assert [b["type"] for b in bodies(h)] == ["audience.entered", "audience.exited"]

            # 410: the destination is disabled, the delivery waits; resumed, it goes.
            h.destination.failures, h.destination.status = 1, 410
            await h.ingest(key, [identify("i3", "u1", plan="pro")])
            await until(lambda: h.activation.destinations[target.destination_id].status == "disabled", "disabled")
            await asyncio.sleep(0.1)
            assert len(bodies(h)) == 2 and len(h.activation.pending()) == 1
            await h.activation.set_destination_state(target.destination_id, "resume")
            await until(lambda: len(bodies(h)) == 3, "sent after resume")

            # 400: dead-lettered at once; a replay sends it again under the same id.
            h.destination.failures, h.destination.status = 1, 400
            await h.ingest(key, [identify("i4", "u1", plan="free")])
            dead = await until(lambda: h.activation.list_deliveries("", 100, status="dead_lettered"), "a dead letter")
            assert dead[0].attempts == 1 and [a.http_status for a in dead[0].attempt_list] == [400]
            replayed = await h.activation.replay(target.destination_id, [], ADMIN)
            assert replayed == [dead[0].delivery_id]
            await until(lambda: len(bodies(h)) == 4, "the replay")
            assert h.destination.received[-1]["delivery_id"] == dead[0].delivery_id

            def replay_delivered():
                found = h.activation.list_deliveries("", 100, status="delivered")
                return [d for d in found if d.delivery_id == dead[0].delivery_id]

            [again] = await until(replay_delivered, "the replay recorded")
            assert [(a.series, a.ok) for a in again.attempt_list] == [(1, False), (2, True)]
            with pytest.raises(InvalidArgument, match=r"delivery_ids\[0\]"):
                await h.activation.replay(target.destination_id, [again.delivery_id], ADMIN)

    run(scenario)


def test_settings_are_checked_and_secrets_never_shown(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            with pytest.raises(InvalidArgument, match=r"settings\.concurrency"):
                await destination(h, concurrency=-1)
            with pytest.raises(InvalidArgument, match=r"settings\.secrets\.other"):
                await destination(h, secrets={"other": "x"})
            made = await destination(h, secrets={"secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}, retry_window_s=60)
            assert made.secret_fields == ["secret"] and "whsec" not in str(made)
            assert made.retry_window_s == 60 and made.max_backoff_s == domain.MAX_BACKOFF_S
            assert h.activation.secrets(made.destination_id) == {"secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
            log = h.stores["activation"].replay(["cdp.activation.v1.DestinationCreated"])
            stored = "".join(str(n.state) for n in log)
            assert "c2VjcmV0" not in stored  # sealed in the log too
            edited = await h.activation.update_destination(
                pb.UpdateDestinationRequest(destination_id=made.destination_id, name="Renamed"), ADMIN
            )
            assert edited.version == 2 and edited.name == "Renamed" and edited.secret_fields == ["secret"]
            assert h.activation.secrets(made.destination_id)  # kept across the edit
            with pytest.raises(InvalidArgument, match="mode"):
                await sync(h, made.destination_id, "x", "sometimes")

    run(scenario)


def test_the_retry_window_counts_no_time_spent_disabled_and_runs_out_while_failing(tmp_path, monkeypatch):
    monkeypatch.setattr(domain, "FIRST_BACKOFF_S", 0.01)

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            target = await destination(h, "support", retry_window_s=60, max_backoff_s=0.05)
            await sync(h, target.destination_id, audience.audience_id, "membership")
            h.destination.failures, h.destination.status = 1, 410
            await h.ingest(key, [identify("i1", "u1", plan="pro")])
            await until(lambda: h.activation.destinations[target.destination_id].status == "disabled", "disabled")
            h.clock.advance(3600)  # an hour disabled
            h.destination.failures, h.destination.status = 1, 503
            await h.activation.set_destination_state(target.destination_id, "resume")
            [delivery] = await until(lambda: h.activation.list_deliveries("", 10, status="delivered"), "delivered")
            assert [a.http_status for a in delivery.attempt_list] == [410, 503, 200]

            # Failing on and on: dead-lettered once the window has run out, not before.
            h.destination.failures = 10**6
            await h.ingest(key, [identify("i2", "u1", plan="free")])
            await until(lambda: len(h.activation.list_deliveries("", 10)) == 2, "scheduled")
            await asyncio.sleep(0.3)
            assert h.activation.list_deliveries("", 10, status="dead_lettered") == []
            h.clock.advance(61)
            [dead] = await until(lambda: h.activation.list_deliveries("", 10, status="dead_lettered"), "dead")
            assert dead.attempts > 2 and dead.last_error == "HTTP 503"

    run(scenario)


def test_a_kind_that_takes_batches_gets_several_persons_deliveries_in_one_send(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            h.destination.max_batch = 10
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            target = await destination(h, "support", concurrency=1)
            await sync(h, target.destination_id, audience.audience_id, "membership")
            await h.ingest(key, [identify(f"b{n}", f"u{n}", plan="pro") for n in range(30)])
            await h.settle()
            await until(lambda: len(bodies(h)) == 30, "all 30")
            assert len({r["delivery_id"] for r in h.destination.received}) == 30
            assert 1 < max(h.destination.batches) <= 10

    run(scenario)


def test_a_retry_keeps_its_wait_across_a_restart(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            target = await destination(h, "support")
            await sync(h, target.destination_id, audience.audience_id, "membership")
            h.destination.failures, h.destination.retry_after = 1, 30.0
            await h.ingest(key, [identify("i1", "u1", plan="pro")])
            [waiting] = await until(lambda: [d for d in h.activation.pending() if d.attempts == 1], "one attempt")
            assert waiting.next_attempt_at == "2026-11-30T12:00:30.000Z"  # the harness clock, plus Retry-After
            # A worker started afresh over what is stored (a restart) waits out the rest of it.
            restarted = DeliveryWorker(h.activation, h.destination.opened)
            [(due, _, delivery_id)] = restarted.lanes[target.destination_id].due
            assert delivery_id == waiting.delivery_id
            assert 29 < due - asyncio.get_running_loop().time() <= 30
            h.clock.advance(20)
            again = DeliveryWorker(h.activation, h.destination.opened)
            [(due, _, _)] = again.lanes[target.destination_id].due
            assert 9 < due - asyncio.get_running_loop().time() <= 10

    run(scenario)
