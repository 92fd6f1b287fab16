"""The collector's copy of identity's suppression list: how it is read, and what a batch waits for."""

from __future__ import annotations

import asyncio
import contextlib

from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.collector import suppression
from cdp.collector.suppression import Suppressions


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
