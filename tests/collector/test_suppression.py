"""The collector's copy of identity's suppression list: how it is read, and what a batch waits for."""

from __future__ import annotations

import asyncio
import contextlib
import json

from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.collector import suppression
from cdp.collector.suppression import Suppressions
from cdp.platform.identifiers import suppression_key


class Log:
    """identity's log as the collector reads it: no suppression yet, a head that moves on."""

    def __init__(self, head: int = 0, fail: bool = False):
        self.head = head
        self.fail = fail
        self.reads: list[int] = []

    async def read(self, after, limit, *, wait_ms=0, topics=()):
        self.reads.append(after)
        if self.fail:
            raise ConnectionError("identity is down")
        return eventlog_pb2.ReadResponse(notifications=[], head=self.head)


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_read_that_finds_no_suppression_moves_on_to_identitys_head():
    log = Log(head=500)
    list_ = Suppressions(b"k" * 32, log)

    async def scenario():
        await list_.refresh()
        log.head = 800
        await list_.refresh()

    run(scenario())
    assert log.reads == [0, 500]  # not a rescan of identity's whole log at every read


def test_no_batch_waits_for_identity_while_its_last_read_failed():
    log = Log(fail=True)
    list_ = Suppressions(b"k" * 32, log)

    async def scenario():
        with contextlib.suppress(ConnectionError):
            await list_.refresh()
        list_.read_at -= suppression.FRESH_WITHIN_S
        await list_.fresh()  # returns at once: the background loop goes on trying
        log.fail = False
        await list_.refresh()  # identity is back
        list_.read_at -= suppression.FRESH_WITHIN_S
        await list_.fresh()

    run(scenario())
    assert log.reads == [0, 0, 0]  # the failed read, the loop's next, and fresh() once identity answered


class Hanging(Log):
    """identity's log when identity accepts the read and never answers (a stalled process, a
    partition): the read is pending until its deadline."""

    async def read(self, after, limit, *, wait_ms=0, topics=()):
        self.reads.append(after)
        await asyncio.sleep(3600)


def test_batches_wait_for_a_read_in_flight_at_most_fresh_wait_s_from_its_start():
    log = Hanging()
    list_ = Suppressions(b"k" * 32, log)
    waits: list[float] = []

    async def scenario():
        list_.read_at -= suppression.FRESH_WITHIN_S
        for _ in range(20):  # batches arriving one after another while the read is pending
            began = asyncio.get_running_loop().time()
            await list_.fresh()
            waits.append(asyncio.get_running_loop().time() - began)
        list_._reading.cancel()

    run(scenario())
    assert log.reads == [0]  # one read in flight, shared
    assert sum(waits) < suppression.FRESH_WAIT_S * 1.5  # not FRESH_WAIT_S for each batch
    assert waits[0] >= suppression.FRESH_WAIT_S * 0.9 and max(waits[1:]) < 0.05


# The list kept between runs -------------------------------------------------------------------------

MASTER = b"k" * 32


class Published(Log):
    """identity's log holding suppressions and lifts, read in pages of the topics asked for."""

    def __init__(self, messages=(), fail: bool = False):
        super().__init__(fail=fail)
        self.notifications: list[eventlog_pb2.Notification] = []
        for message in messages:
            self.publish(message)

    def publish(self, message) -> None:
        self.notifications.append(
            eventlog_pb2.Notification(
                id=len(self.notifications) + 1,
                topic=message.DESCRIPTOR.full_name,
                payload=message.SerializeToString(),
            )
        )
        self.head = len(self.notifications)

    async def read(self, after, limit, *, wait_ms=0, topics=()):
        await super().read(after, limit)
        page = [n for n in self.notifications if n.id > after][:limit]
        return eventlog_pb2.ReadResponse(notifications=page, head=self.head)


def forgotten(user_id: str) -> identity_pb2.IdentifiersSuppressed:
    return identity_pb2.IdentifiersSuppressed(keys=[suppression_key(MASTER, "user_id", user_id)])


def call_of(user_id: str) -> event_pb2.Event:
    return event_pb2.Event(type="track", message_id="m-1", user_id=user_id, event="Seen")


def test_a_collector_started_with_identity_down_drops_calls_of_whom_an_earlier_run_read_forgotten(tmp_path):
    cache = suppression.cache_path(tmp_path)
    earlier = Suppressions(MASTER, Published([forgotten("u-gone"), forgotten("u-back")]), cache=cache)
    run(earlier.refresh())
    assert earlier.matched(call_of("u-gone")) == "user_id"

    # Identity down at the next start: the list the earlier run kept holds, and says where it is from.
    now = Suppressions(MASTER, Published(fail=True), cache=cache)
    assert now.matched(call_of("u-gone")) == "user_id"
    assert now.matched(call_of("u-kept")) == ""
    ready, detail = run(now.readiness())
    assert ready and "earlier run" in detail

    # Nothing of the file names a person: keyed hashes only, the file for its user alone.
    text = cache.read_text()
    assert "u-gone" not in text and "u-back" not in text
    assert cache.stat().st_mode & 0o077 == 0


def test_a_lift_read_after_the_kept_list_is_kept_too_and_reads_go_on_from_the_kept_position(tmp_path):
    cache = suppression.cache_path(tmp_path)
    identity_log = Published([forgotten("u-gone"), forgotten("u-back")])
    run(Suppressions(MASTER, identity_log, cache=cache).refresh())
    identity_log.publish(identity_pb2.SuppressionLifted(key=suppression_key(MASTER, "user_id", "u-back")))
    later = Suppressions(MASTER, identity_log, cache=cache)
    assert later.matched(call_of("u-back")) == "user_id"  # as kept: identity not read yet
    identity_log.reads.clear()
    run(later.refresh())
    assert identity_log.reads == [2], "read on from the kept position, not from the start"
    assert later.matched(call_of("u-back")) == ""
    assert Suppressions(MASTER, Published(fail=True), cache=cache).matched(call_of("u-back")) == ""
    assert Suppressions(MASTER, Published(fail=True), cache=cache).matched(call_of("u-gone")) == "user_id"


def test_a_kept_list_of_another_install_or_unreadable_is_not_used(tmp_path):
    cache = suppression.cache_path(tmp_path)
    run(Suppressions(MASTER, Published([forgotten("u-gone")]), cache=cache).refresh())
    other = Suppressions(b"o" * 32, Published(fail=True), cache=cache)
    assert not other.keys and not other.from_cache
    assert run(other.readiness())[0] is False
    install = list_install(cache)  # this install's, so only the types are wrong
    odd_types = [
        f'{{"format": 1, "install": "{install}", "position": 0, "keys": "{suppression_key(MASTER, "user_id", "u")}"}}',
        f'{{"format": 1, "install": "{install}", "position": true, "keys": []}}',
    ]
    for broken in (b"{not json", b"[]", b'{"format": 1}', b"\x00" * 10, *(t.encode() for t in odd_types)):
        cache.write_bytes(broken)
        fresh = Suppressions(MASTER, Published(fail=True), cache=cache)
        assert not fresh.keys and run(fresh.readiness())[0] is False, broken


def list_install(cache) -> str:
    return json.loads(cache.read_text())["install"]


def test_identity_log_behind_the_kept_position_is_read_again_from_its_start(tmp_path):
    cache = suppression.cache_path(tmp_path)
    run(Suppressions(MASTER, Published([forgotten("u-1"), forgotten("u-2"), forgotten("u-3")]), cache=cache).refresh())
    restored = Published([forgotten("u-4")])  # identity's store replaced: its log is shorter
    list_ = Suppressions(MASTER, restored, cache=cache)
    run(list_.refresh())
    assert restored.reads[:2] == [3, 0]
    assert list_.matched(call_of("u-4")) == "user_id"
    assert list_.matched(call_of("u-1")) == "user_id", "what was suppressed stays so until lifted"
    assert list_.position == 1


def test_a_state_directory_that_cannot_be_written_leaves_the_list_in_memory(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    list_ = Suppressions(MASTER, Published([forgotten("u-gone")]), cache=suppression.cache_path(blocked))
    run(list_.refresh())
    assert list_.matched(call_of("u-gone")) == "user_id"


def test_a_process_behind_another_on_the_same_directory_does_not_write_over_its_list(tmp_path):
    cache = suppression.cache_path(tmp_path)
    identity_log = Published([forgotten("u-1")])
    behind = Suppressions(MASTER, identity_log, cache=cache)
    run(behind.refresh())
    identity_log.publish(forgotten("u-2"))
    run(Suppressions(MASTER, identity_log, cache=cache).refresh())  # reads to 2 and keeps it
    behind.position = 0  # as if it had only now read its first page
    behind.keys.add("another")
    behind._save()
    assert Suppressions(MASTER, Published(fail=True), cache=cache).matched(call_of("u-2")) == "user_id"
