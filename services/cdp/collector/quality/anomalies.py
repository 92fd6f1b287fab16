"""Volume anomalies: hours in which a source's event came far more or far less than it usually
does (cdp.collector.quality.baseline says which), found on a timer and recorded in the log.

The Detector judges each hour once it has closed (plus a grace for the last calls to be
projected), on a timer: an event that stops altogether is flagged although no call comes to
trigger anything. Each anomaly is recorded in the collector's log as VolumeAnomalyDetected under
an id derived from (source, event, hour), so the collector processes that judge the same hour
store it once, and the read model is replayed from the log like the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.collector.quality import tables
from cdp.collector.quality.baseline import Band, judge
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso
from cdp.platform.ids import derived_id
from cdp.platform.published import stored
from cdp.platform.timers import Timers
from cdp.platform.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
TIMER = "hour-closed"


def anomaly_id(source_id: str, event_type: str, event: str, hour: str):
    return derived_id("volume-anomaly", source_id, event_type, event, hour)


class Detector:
    """Judges each closed hour of every event with history, on a timer (see the module's docstring).

    catch_up: brings the read model up to the log before an hour is judged."""

    def __init__(
        self,
        uow: UnitOfWork,
        engine: sa.Engine,
        catch_up: Callable[[], object],
        band: Band | None = None,
        clock: Clock = SYSTEM_CLOCK,
        poll_s: float = 5.0,
    ):
        self.uow = uow
        self.engine = engine
        self.catch_up = catch_up
        self.band = band or Band()
        self.clock = clock
        self.poll_s = poll_s
        self.timers = Timers()
        self.judged: datetime | None = None  # the last hour judged by this process

    def next_check(self, now: datetime) -> datetime:
        """When the hour now falls in has closed (and its grace passed)."""
        return tables.hour_start(now) + HOUR + timedelta(seconds=self.band.grace_s)

    def judge_hour(self, hour: datetime) -> list[qpb.VolumeAnomalyDetected]:
        """Judge one closed hour (its start) and record what left the band; returns the anomalies
        this call stored (an anomaly stored before, by any process, is not stored again)."""
        return self.record(self.find(hour))

    def find(self, hour: datetime) -> list[qpb.VolumeAnomalyDetected]:
        """What of one closed hour left its band (reads only: safe on a worker thread)."""
        self.catch_up()
        band = self.band
        hour_text = tables.hour_text(hour)
        past = [tables.hour_text(hour - timedelta(days=d)) for d in range(1, band.days + 1)]
        v, e = tables.volume_hours, tables.catalog_events
        with self.engine.connect() as conn:
            # Events first seen min_days before the hour at least: only those have a baseline.
            candidates = list(
                conn.execute(
                    sa.select(e.c.event_key, e.c.source_id, e.c.event_type, e.c.event, e.c.first_seen).where(
                        e.c.first_seen < tables.iso(hour - timedelta(days=band.min_days) + HOUR),
                        e.c.last_seen >= past[-1],
                    )
                )
            )
            counts: dict[tuple[str, str], int] = {}
            for key, at, n in conn.execute(
                sa.select(v.c.event_key, v.c.hour, v.c.count).where(v.c.hour.in_([hour_text, *past]))
            ):
                counts[key, at] = n
        detected_at = format_iso(self.clock.now())
        found = []
        for c in candidates:
            first_hour = tables.hour_of(c.first_seen)
            history = [counts.get((c.event_key, h), 0) for h in past if h >= first_hour]
            judged = judge(counts.get((c.event_key, hour_text), 0), history, band)
            if judged is None or not judged.kind:
                continue
            found.append(
                qpb.VolumeAnomalyDetected(
                    source_id=c.source_id,
                    event_type=c.event_type,
                    event=c.event,
                    hour=hour_text,
                    observed=counts.get((c.event_key, hour_text), 0),
                    baseline=judged.baseline,
                    low=judged.low,
                    high=judged.high,
                    kind=judged.kind,
                    days=len(history),
                    detected_at=detected_at,
                )
            )
        return found

    def record(self, found: Sequence[qpb.VolumeAnomalyDetected]) -> list[qpb.VolumeAnomalyDetected]:
        """Store anomalies found (on the event loop, as every commit of the collector); returns
        those that were not stored before."""
        if not found:
            return []
        events = [stored(anomaly_id(a.source_id, a.event_type, a.event, a.hour), 1, a) for a in found]
        existing = self.uow.commit(events, new_only=True).existing
        return [a for a, s in zip(found, events, strict=True) if s.originator_id not in existing]

    def due_hours(self) -> list[datetime]:
        """The hours that closed since the last judged (at most a day of them) if the timer is
        due, and the timer armed for the next; at start it is due for the last closed hour."""
        now = self.clock.now()
        grace = timedelta(seconds=self.band.grace_s)
        if TIMER not in self.timers.next:
            self.timers.arm(TIMER, self.next_check(now) - HOUR)
        if not self.timers.due(now):
            return []
        closed = tables.hour_start(now - grace) - HOUR
        first = closed if self.judged is None else max(self.judged + HOUR, closed - timedelta(days=1))
        self.timers.arm(TIMER, self.next_check(now - grace))
        return [first + i * HOUR for i in range(int((closed - first) / HOUR) + 1)]

    def tick(self) -> list[qpb.VolumeAnomalyDetected]:
        """Judge the hours due (see due_hours); returns the anomalies stored."""
        out: list[qpb.VolumeAnomalyDetected] = []
        for hour in self.due_hours():
            out += self.judge_hour(hour)
            self.judged = hour
        if out:
            self.catch_up()  # the anomalies into the read model at once
        return out

    async def run(self) -> None:
        """tick() whenever the timer is due, reading on a worker thread (the event loop serves
        ingest meanwhile) and storing on the loop."""
        while True:
            try:
                for hour in self.due_hours():
                    found = self.record(await asyncio.to_thread(self.find, hour))
                    self.judged = hour
                    for a in found:
                        log.info(
                            "volume %s of %s %s in %s: %d against %.1f",
                            a.kind,
                            a.event_type,
                            a.event or "-",
                            a.hour,
                            a.observed,
                            a.baseline,
                        )
            except Exception:
                log.exception("volume anomalies: judging an hour failed; trying again")
                self.timers.arm(TIMER, self.clock.now())
                await asyncio.sleep(self.poll_s)
                continue
            self.timers.wake.clear()
            await asyncio.sleep(self.timers.wait_s(self.clock.now(), self.poll_s))


class AnomalyQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def anomalies(
        self, since: datetime, until: datetime, source_ids: Sequence[str] | None
    ) -> list[qpb.VolumeAnomalyDetected]:
        a = tables.anomalies
        query = (
            sa.select(a.c.body)
            .where(a.c.hour >= tables.hour_text(since), a.c.hour < tables.iso(until))
            .order_by(a.c.hour.desc(), a.c.anomaly_id)
        )
        if source_ids is not None:
            query = query.where(a.c.source_id.in_(source_ids))
        with self.engine.connect() as conn:
            return [qpb.VolumeAnomalyDetected.FromString(r.body) for r in conn.execute(query)]

    def recent(self, now: datetime, band: Band) -> list[sa.Row]:
        """Anomalies of the last judged hour, per source and kind (a gauge: alerts while it lasts)."""
        a = tables.anomalies
        last = tables.hour_text(tables.hour_start(now - timedelta(seconds=band.grace_s)) - HOUR)
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(a.c.source_id, a.c.kind, sa.func.count())
                    .where(a.c.hour >= last)
                    .group_by(a.c.source_id, a.c.kind)
                )
            )


def write(conn: sa.Connection, found: Sequence[tuple[str, qpb.VolumeAnomalyDetected]]) -> None:
    """Recorded anomalies (originator id, message) into the read model; a replay writes them again."""
    rows = [
        {"anomaly_id": i, "source_id": m.source_id, "hour": m.hour, "kind": m.kind, "body": m.SerializeToString()}
        for i, m in found
    ]
    if rows:
        conn.execute(
            tables.anomalies.delete().where(tables.anomalies.c.anomaly_id.in_([r["anomaly_id"] for r in rows]))
        )
        conn.execute(tables.anomalies.insert(), rows)
