"""Grouped commits: the ingest calls that arrive together are stored together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector.admission import Admitted
from cdp.collector.registry import Source


class Steps(Protocol):
    """What a group's calls go through (the Collector): check, keys, admission, store, ack."""

    def check_batch(self, write_key: str, events: Sequence[event_pb2.Event]) -> Source: ...

    def fetch_keys(self, events: Sequence[event_pb2.Event]) -> None: ...

    def admit(self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False) -> Admitted: ...

    def store_new(self, events: list) -> set: ...

    def acknowledge(self, batch: Admitted, existing: set) -> pb.IngestResponse: ...


GATHER_S = 0.001  # how long the first call of a group waits for others to join it


@dataclass
class Call:
    """One ingest call waiting for its group."""

    write_key: str
    events: Sequence[event_pb2.Event]
    all_or_nothing: bool
    future: asyncio.Future
    batch: Admitted | None = None


class GroupIngest:
    """Ingests the calls that arrive within GATHER_S of each other as one group: one vault
    transaction for all their subjects' keys and one store transaction (one commit, one fsync)
    for all their events, where each would otherwise pay for its own.

    Each call keeps the outcome it would have alone: errors, rejections and all_or_nothing stay
    per call, and a call sharing an event id with an earlier call of the group is stored in a
    transaction after it, so the store's uniqueness makes the later of two concurrent sends the
    duplicate, as if they had come in turn. (Writing in a worker thread while the loop admits
    the next group was measured too: no faster, as the loop is CPU-bound and threads contend
    for the GIL.)
    """

    def __init__(self, collector: Steps):
        self.collector = collector
        self._waiting: list[Call] = []

    async def ingest(
        self, write_key: str, events: Sequence[event_pb2.Event], all_or_nothing: bool
    ) -> pb.IngestResponse:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_later(GATHER_S, self._run)
        call = Call(write_key, events, all_or_nothing, loop.create_future())
        self._waiting.append(call)
        return await call.future

    def _run(self) -> None:
        calls, self._waiting = self._waiting, []
        calls = [c for c in calls if not c.future.done() and self._attempt(c, self._check)]
        if not self._attempt_all(calls, self._fetch_keys):
            return
        admitted = [c for c in calls if self._attempt(c, self._admit)]
        while admitted:
            group, admitted = self._disjoint(admitted)
            self._attempt_all(group, self._store)

    def _check(self, call: Call) -> None:
        self.collector.check_batch(call.write_key, call.events)

    def _fetch_keys(self, calls: list[Call]) -> None:
        self.collector.fetch_keys([e for call in calls for e in call.events])

    def _admit(self, call: Call) -> None:
        call.batch = self.collector.admit(call.write_key, call.events, all_or_nothing=call.all_or_nothing)

    def _store(self, group: list[Call]) -> None:
        existing = self.collector.store_new([e for call in group for e in call.batch.to_store])
        for call in group:
            response = self.collector.acknowledge(call.batch, existing)
            if not call.future.done():  # else its caller went away; the events are stored all the same
                call.future.set_result(response)

    @staticmethod
    def _attempt(call: Call, step: Callable[[Call], None]) -> bool:
        """Run a step of one call; a failure ends that call alone."""
        try:
            step(call)
            return True
        except Exception as error:
            call.future.set_exception(error)
            return False

    @staticmethod
    def _attempt_all(calls: list[Call], step: Callable[[list[Call]], None]) -> bool:
        """Run a step of several calls together; a failure ends them all."""
        try:
            step(calls)
            return True
        except Exception as error:
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(error)
            return False

    @staticmethod
    def _disjoint(calls: list[Call]) -> tuple[list[Call], list[Call]]:
        """The calls that share no event id with an earlier one, and the rest."""
        group, later, ids = [], [], set()
        for call in calls:
            if ids.isdisjoint(call.batch.seen):
                group.append(call)
                ids.update(call.batch.seen)
            else:
                later.append(call)
        return group, later
