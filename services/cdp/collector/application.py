"""The collector: sources and write keys, and the ingest path for tracking calls."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Sequence

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.collector import domain
from cdp.platform.clock import format_iso, now_iso, parse_iso
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.store import EventStore

ACCEPTED = collector_pb2.ACCEPTED
DUPLICATE = collector_pb2.DUPLICATE
REJECTED = collector_pb2.REJECTED


def corrected_timestamp(event: event_pb2.Event, received: datetime) -> str:
    """When the call happened: a client clock is corrected by how far its sentAt
    was off (receivedAt - (sentAt - originalTimestamp)); what it sent is kept."""
    if event.original_timestamp and event.sent_at:
        skew = parse_iso(event.sent_at) - parse_iso(event.original_timestamp)
        return format_iso(received - skew)
    return event.original_timestamp or format_iso(received)


class UnknownWriteKey(Exception):
    pass


class BatchTooLarge(Exception):
    pass


@dataclass
class Source:
    source_id: str
    name: str
    write_key: str
    server_side: bool
    disabled: bool = False

    def to_proto(self) -> collector_pb2.Source:
        return collector_pb2.Source(
            source_id=self.source_id, name=self.name, write_key=self.write_key,
            server_side=self.server_side, disabled=self.disabled,
        )


class Collector:
    def __init__(self, store: EventStore):
        self.store = store
        self.sources: dict[str, Source] = {}  # by write key
        for n in store.replay(topic_of(collector_pb2.SourceCreated)):
            self._apply_source(decode(n.topic, n.state).source)

    def _apply_source(self, source: collector_pb2.Source) -> None:
        self.sources[source.write_key] = Source(
            source.source_id, source.name, source.write_key, source.server_side, source.disabled
        )

    # Sources ---------------------------------------------------------------

    def create_source(self, name: str, server_side: bool) -> Source:
        if not name.strip():
            raise ValueError("name: is required")
        if any(s.name == name for s in self.sources.values()):
            raise ValueError(f"name: a source named {name!r} exists")
        source_id = str(uuid.uuid4())
        proto = collector_pb2.Source(
            source_id=source_id, name=name, write_key=secrets.token_urlsafe(24), server_side=server_side
        )
        self.store.append([stored(uuid.UUID(source_id), 1, collector_pb2.SourceCreated(source=proto, created_at=now_iso()))])
        self._apply_source(proto)
        return self.sources[proto.write_key]

    def source_for(self, write_key: str) -> Source:
        source = self.sources.get(write_key)
        if source is None or source.disabled:
            raise UnknownWriteKey("write_key: unknown or disabled write key")
        return source

    # Ingest ----------------------------------------------------------------

    def ingest(self, write_key: str, events: Sequence[event_pb2.Event], *,
               all_or_nothing: bool = False) -> collector_pb2.IngestResponse:
        """Validate, deduplicate and store a batch; acknowledge each event.

        Good events are stored in one transaction whatever their neighbours do
        (with all_or_nothing, none is stored when any is rejected); a messageId
        this source sent before is acknowledged as a duplicate.
        """
        source = self.source_for(write_key)
        if len(events) > domain.MAX_BATCH_EVENTS:
            raise BatchTooLarge(f"events: {len(events)} events; the limit is {domain.MAX_BATCH_EVENTS} a batch")
        received = datetime.now(timezone.utc)
        received_at = format_iso(received)
        acks: list[collector_pb2.EventAck] = []
        to_store = []
        seen: dict[uuid.UUID, int] = {}
        for index, event in enumerate(events):
            rejection = domain.validate(event, event.ByteSize())
            if rejection is not None:
                acks.append(collector_pb2.EventAck(index=index, status=REJECTED, field=rejection.field, error=rejection.rule))
                continue
            event_id = derived_id("event", source.source_id, event.message_id)
            if event_id in seen:
                acks.append(collector_pb2.EventAck(index=index, status=DUPLICATE, event_id=str(event_id)))
                continue
            seen[event_id] = index
            accepted = collector_pb2.EventAccepted(
                event_id=str(event_id), source_id=source.source_id, server_side=source.server_side, event=event
            )
            accepted.event.received_at = received_at
            if not accepted.event.timestamp:
                accepted.event.timestamp = corrected_timestamp(accepted.event, received)
            to_store.append(stored(event_id, 1, accepted))
            acks.append(collector_pb2.EventAck(index=index, status=ACCEPTED, event_id=str(event_id)))
        if all_or_nothing and any(a.status == REJECTED for a in acks):
            to_store = []
            for ack in acks:
                if ack.status != REJECTED:
                    ack.status, ack.event_id, ack.field = REJECTED, "", "batch"
                    ack.error = "not stored: another call in this request was rejected"
        existing = self.store.append_new(to_store) if to_store else set()
        for event_id in existing:
            acks[seen[event_id]].status = DUPLICATE
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for ack in acks:
            counts[ack.status] += 1
        return collector_pb2.IngestResponse(
            acks=acks, accepted=counts[ACCEPTED], duplicates=counts[DUPLICATE], rejected=counts[REJECTED]
        )
