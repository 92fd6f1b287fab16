"""The collector: the application facade over its concerns, and its one way to storage.

registry.py holds sources and plans, admission.py one call's checks and governance (each
event's outcome is domain.outcome()), ingest.py grouped commits, quarantine.py the calls
held back. Everything the collector stores goes through _commit() or store_new(): one commit
of the platform's unit of work, with the decision records queued meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector import domain, quarantine, registry
from cdp.collector.admission import (
    ACCEPTED,
    COLLECT_DECISION,
    DUPLICATE,
    REJECTED,
    Admission,
    Admitted,
    BatchTooLarge,
)
from cdp.collector.ingest import GATHER_S, GroupIngest
from cdp.collector.quarantine import Quarantine
from cdp.collector.registry import NotFound, Registry, Source, UnknownWriteKey
from cdp.collector.suppression import Suppressions
from cdp.platform import errors
from cdp.platform.clock import SYSTEM_CLOCK, Clock
from cdp.platform.personal import PersonalData
from cdp.platform.pseudonyms import Pseudonyms
from cdp.platform.published import decode, topic_of
from cdp.platform.store import OriginatorId
from cdp.platform.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

__all__ = [
    "ACCEPTED",
    "COLLECT_DECISION",
    "DUPLICATE",
    "GATHER_S",
    "REJECTED",
    "STATE_TOPICS",
    "Admitted",
    "BatchTooLarge",
    "Collector",
    "NotFound",
    "Source",
    "UnknownWriteKey",
    "corrected_timestamp",
]

STATE_TOPICS = topic_of(*registry.TOPICS, *quarantine.TOPICS)
REFRESH_EVERY_S = 0.25  # how soon a replica sees what another committed (sources, plans, quarantine)
REFRESH_PAGE = 1000
corrected_timestamp = domain.corrected_timestamp


class Collector:
    def __init__(
        self,
        uow: UnitOfWork,
        personal: PersonalData,
        clock: Clock = SYSTEM_CLOCK,
        suppressions: Suppressions | None = None,
        pseudonyms: Pseudonyms | None = None,
    ):
        self.uow = uow
        self.store = uow.store
        self.decider = uow.decider
        self.personal = personal
        self.suppressions = suppressions
        self.registry = Registry(self.store, personal.vault.write_key_hash, clock)
        self.admission = Admission(self.registry, self.decider, personal, clock, suppressions, pseudonyms)
        self.waiting = Quarantine(self.registry, self.admission, personal)
        self._group = GroupIngest(self)
        self.rebuild()

    def rebuild(self) -> None:
        self.registry.clear()
        self.waiting.clear()
        self._position = 0  # the collector's own log, as far as its state has folded it
        self.refresh()

    def refresh(self) -> None:
        """Fold what was committed to the store since, by this process or another (replicas on
        one store): sources, plans, assignments, quarantine. In log order, so every replica
        folds the same sequence whoever wrote it."""
        while True:
            head = self.store.head()
            page = self.store.read(self._position, REFRESH_PAGE, STATE_TOPICS, stop=head)
            for n in page:
                self._apply(decode(n.topic, n.state))
            if len(page) < REFRESH_PAGE:
                self._position = max(self._position, head)
                return
            self._position = page[-1].id

    async def follow_own_store(self) -> None:
        """Keep state current with the other replicas' commits (within REFRESH_EVERY_S)."""
        while True:
            await asyncio.sleep(REFRESH_EVERY_S)
            try:
                self.refresh()
            except Exception as error:  # the store is down: the next round tries again
                log.warning("collector: refreshing state from the store failed: %s", error)

    def _apply(self, message) -> None:
        if isinstance(message, registry.TOPICS):
            self.registry.apply(message)
        else:
            self.waiting.apply(message)

    # State, as the servicer reads it -----------------------------------------

    @property
    def sources(self) -> dict[str, Source]:
        return self.registry.sources

    @property
    def by_key(self) -> dict[str, Source]:
        return self.registry.by_key

    @property
    def plans(self):
        return self.registry.plans

    @property
    def plan_documents(self) -> dict[str, pb.Plan]:
        return self.registry.plan_documents

    @property
    def quarantine(self) -> dict[str, pb.QuarantinedEvent]:
        return self.waiting.waiting

    # Storage -----------------------------------------------------------------

    def _commit(self, events: list[StoredEvent]) -> None:
        """Commit with any queued decision records; apply to state once stored."""
        self.uow.commit(events)
        self._apply_stored(events, set())

    def store_new(self, events: list[StoredEvent]) -> set[OriginatorId]:
        """Commit the events whose originators are new (with queued decision records);
        returns the originators that existed."""
        return self.uow.commit(events, new_only=True).existing

    def _apply_stored(self, events: list[StoredEvent], existing: set[OriginatorId]) -> None:
        """State changes come from the store, in log order, with any other replica's."""
        if any(event.topic in STATE_TOPICS for event in events):
            self.refresh()

    # Sources and plans -------------------------------------------------------

    def create_source(self, name: str, server_side: bool) -> Source:
        self.refresh()  # commands see what other replicas committed, however recent
        created, write_key = self.registry.source_created(name, server_side)
        self._commit([created])
        return dataclasses.replace(self.sources[str(created.originator_id)], write_key=write_key)

    def disable_source(self, name: str) -> Source:
        self.refresh()  # commands see what other replicas committed, however recent
        source = self.registry.named(name)
        disabled = self.registry.source_disabled(source)
        if disabled:
            self._commit(disabled)
        return source

    def assign_plan(
        self,
        source_name: str,
        plan_name: str,
        mode: str = "",
        settings: pb.PlanSettings | None = None,
        plan_version: int = 0,
    ) -> Source:
        """Check the source's calls against a plan, pinned to a version (0: the latest), under the
        mode's settings (default allow) with any field of settings overriding them."""
        self.refresh()  # commands see what other replicas committed, however recent
        source = self.registry.named(source_name)
        self._commit([self.registry.plan_assigned(source, plan_name, mode, settings, plan_version)])
        return source

    def get_plan(self, name: str, version: int = 0) -> pb.Plan:
        self.refresh()  # commands see what other replicas committed, however recent
        return self.registry.plan_document(name, version)

    def source_for(self, write_key: str) -> Source:
        return self.registry.source_for(write_key)

    def publish_plan(self, name: str, document_text: str) -> pb.Plan:
        self.refresh()  # commands see what other replicas committed, however recent
        plan, published = self.registry.plan_published(name, document_text)
        self._commit([published])
        return plan

    # Ingest ------------------------------------------------------------------

    def ingest(
        self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False
    ) -> pb.IngestResponse:
        """Validate, govern, deduplicate and store a batch; acknowledge each event.

        Good events are stored in one transaction whatever their neighbours do
        (with all_or_nothing, none is stored when any is rejected); a messageId
        this source sent before is acknowledged as a duplicate.
        """
        batch = self.admit(write_key, events, all_or_nothing=all_or_nothing)
        return self.acknowledge(batch, self.store_new(batch.to_store))

    async def ingest_async(
        self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False
    ) -> pb.IngestResponse:
        """ingest(), for callers on the event loop: calls that arrive together are ingested
        as a group (see GroupIngest), each with the outcome it would have on its own. A forgotten
        person's calls are dropped from at most FRESH_WITHIN_S after identity published the
        forget (see Suppressions.fresh), not from whenever this process's list was read last."""
        if self.suppressions is not None:
            await self.suppressions.fresh()
        return await self._group.ingest(write_key, events, all_or_nothing)

    def acknowledge(self, batch: Admitted, existing: set[OriginatorId]) -> pb.IngestResponse:
        """The response to a batch once stored; its state events apply."""
        self._apply_stored(batch.to_store, existing)
        return batch.acknowledge(existing)

    def admit(self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False) -> Admitted:
        """Everything of ingest() but storing: the events to store and their acks."""
        return self.admission.admit(write_key, events, all_or_nothing=all_or_nothing)

    def check_batch(self, write_key: str, events: Sequence[event_pb2.Event]) -> Source:
        """The batch's source; raises UnknownWriteKey or BatchTooLarge.

        A key this process does not know may be of a source another process sharing the store
        created a moment ago (a client's next call may reach any of them): the store is read
        again before the key is refused."""
        try:
            return self.admission.check_batch(write_key, events)
        except UnknownWriteKey:
            self.refresh()
            return self.admission.check_batch(write_key, events)

    def fetch_keys(self, events: Sequence[event_pb2.Event]) -> None:
        """One key transaction for the events' subjects; encrypting each event then hits the cache."""
        self.admission.fetch_keys(events)

    # Quarantine --------------------------------------------------------------

    def list_quarantine(
        self, source_name: str = "", limit: int = 100, filter: pb.QuarantineFilter | None = None
    ) -> list[pb.QuarantinedEvent]:
        self.refresh()  # commands see what other replicas committed, however recent
        return self.waiting.list(self.waiting.filter_of(filter, source_name), limit)

    def release_quarantine(
        self,
        source_name: str = "",
        filter: pb.QuarantineFilter | None = None,
        *,
        as_is: bool = False,
        by: str = "",
        reason: str = "",
    ) -> pb.ReleaseQuarantineResponse:
        """Pass matching held events on: as they were (as_is), or those their source's current
        plan passes now; who released them is recorded."""
        self.refresh()  # commands see what other replicas committed, however recent
        chosen = self.waiting.filter_of(filter, source_name)
        out, released, still = self.waiting.release(chosen, as_is=as_is, by=by, reason=reason)
        self._commit_review(out)
        return pb.ReleaseQuarantineResponse(released=len(released), still_quarantined=still, event_ids=released)

    def _commit_review(self, out: list[StoredEvent]) -> None:
        """Commit releases or discards: none if another replica released or discarded one of
        the calls meanwhile (its version 2 is taken), so no call is passed on twice."""
        if not out:
            return
        try:
            self._commit(out)
        except IntegrityError:
            self.refresh()
            raise errors.Conflict(
                "filter: another review released or discarded some of these calls meanwhile; nothing was changed"
            ) from None

    def discard_quarantine(
        self, filter: pb.QuarantineFilter, *, by: str = "", reason: str = ""
    ) -> pb.DiscardQuarantineResponse:
        """Drop matching held events for good; who discarded them is recorded."""
        self.refresh()  # commands see what other replicas committed, however recent
        out, discarded = self.waiting.discard(self.waiting.filter_of(filter), by=by, reason=reason)
        self._commit_review(out)
        return pb.DiscardQuarantineResponse(discarded=len(discarded), event_ids=discarded)
