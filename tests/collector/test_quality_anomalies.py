"""Volume anomalies: the baseline and band, and the detector on a simulated clock over a real store
and read model (an hour with no traffic at all is judged by the timer, not by a call)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.api.common.v1 import event_pb2
from cdp.collector.application import Collector
from cdp.collector.quality import readmodel, tables
from cdp.collector.quality.anomalies import AnomalyQueries, Detector
from cdp.collector.quality.baseline import DROP, SPIKE, Band, judge
from cdp.collector.quality.violations import ViolationQueries
from cdp.platform import config as config_module
from cdp.platform.clock import ManualClock
from cdp.platform.config import StoreConfig
from cdp.platform.errors import InvalidArgument
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.store import open_store
from support.kernel import unit_of_work

START = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
DAY = timedelta(days=1)

# The baseline and the band (cdp.collector.quality.baseline) --------------------------------------


def test_an_hour_within_the_band_is_no_anomaly():
    judged = judge(20, [20, 18, 22, 20, 19, 21, 20], Band())
    assert judged is not None and judged.kind == ""
    assert (judged.baseline, judged.low, judged.high) == (20, 20 / 3, 60)


def test_a_drop_below_the_band_and_a_spike_above_it():
    history = [20] * 7
    assert judge(6, history, Band()).kind == DROP  # below 20 / 3
    assert judge(7, history, Band()).kind == ""
    assert judge(0, history, Band()).kind == DROP  # no call at all
    assert judge(61, history, Band()).kind == SPIKE
    assert judge(60, history, Band()).kind == ""
    assert judge(11, history, Band(factor=1.5)).kind == DROP  # a narrower band


def test_the_baseline_is_the_median_so_one_bad_day_does_not_move_it():
    assert judge(20, [20, 20, 20, 0, 20, 20, 500], Band()).baseline == 20


def test_too_little_history_is_not_judged():
    assert judge(0, [20, 20], Band()) is None
    assert judge(0, [20, 20], Band(min_days=2)).kind == DROP


def test_quiet_events_are_left_alone():
    assert judge(0, [4] * 7, Band()).kind == ""  # one call more or less of a rare event is noise
    assert judge(9, [0] * 7, Band()).kind == ""
    assert judge(10, [0] * 7, Band()).kind == SPIKE  # a new burst of an event that had stopped


def test_a_band_that_makes_no_sense_is_refused_naming_the_setting():
    with pytest.raises(InvalidArgument, match="factor"):
        Band(factor=0.5)
    with pytest.raises(InvalidArgument, match="factor"):
        Band.from_env({"CDP_ANOMALY_FACTOR": "nan"})
    with pytest.raises(InvalidArgument, match="min_days"):
        Band(days=3, min_days=4)
    with pytest.raises(InvalidArgument, match="CDP_ANOMALY_FACTOR"):
        Band.from_env({"CDP_ANOMALY_FACTOR": "wide"})
    assert Band.from_env({"CDP_ANOMALY_FACTOR": "2", "CDP_ANOMALY_DAYS": "14"}) == Band(factor=2.0, days=14)


# The detector on a simulated clock ----------------------------------------------------------------


class World:
    def __init__(self, store_config):
        self.config = dataclasses.replace(config_module.load("collector", []), store=store_config)
        self.store = open_store(self.config.store, "collector")
        self.uow = unit_of_work(self.store, "collector")
        self.clock = ManualClock(START)
        self.collector = Collector(self.uow, PersonalData(open_vault(self.config), self.uow.decider), clock=self.clock)
        self.source = self.collector.create_source("web", server_side=True)
        self.engine = readmodel.engine_of(self.config.store)
        self.projection = readmodel.projection(self.store, self.engine)
        self.sent = 0

    def detector(self, **band) -> Detector:
        return Detector(self.uow, self.engine, self.projection.catch_up, Band(**band), self.clock, poll_s=0.01)

    def send(self, name: str, count: int) -> None:
        calls = []
        for _ in range(count):
            self.sent += 1
            calls.append(
                event_pb2.Event(
                    type="track", message_id=f"m{self.sent}", user_id="u1", event=name, properties=json.dumps({})
                )
            )
        assert self.collector.ingest(self.source.write_key, calls).accepted == count

    def history(self, days: int = 7) -> None:
        """At 10:05 on each of `days` days: 20 Viewed, 15 Signed Up, 20 Clicked."""
        for day in range(days):
            self.clock.current = START + day * DAY
            self.send("Viewed", 20)
            self.send("Signed Up", 15)
            self.send("Clicked", 20)

    def recorded(self) -> list[qpb.VolumeAnomalyDetected]:
        return [
            qpb.VolumeAnomalyDetected.FromString(n.state)
            for n in self.store.read(0, 10_000, [qpb.VolumeAnomalyDetected.DESCRIPTOR.full_name])
        ]

    def close(self) -> None:
        self.engine.dispose()
        self.store.close()


@pytest.fixture
def world(store_config):
    """On SQLite and on PostgreSQL (the upserts and the conditional commit are dialect-specific)."""
    w = World(store_config)
    yield w
    w.close()


def test_a_stop_a_spike_and_a_steady_event_once_the_hour_closes(world):
    world.history()
    world.clock.current = START + 7 * DAY  # day 8, 10:05: Viewed stops, Signed Up bursts, Clicked as ever
    world.send("Signed Up", 100)
    world.send("Clicked", 20)
    detector = world.detector()
    world.clock.current = START + 7 * DAY + timedelta(minutes=55)  # 11:00: the hour closed, not its grace
    assert detector.tick() == []
    world.clock.current += timedelta(minutes=2)  # 11:02
    found = {(a.event, a.kind): a for a in detector.tick()}
    assert set(found) == {("Viewed", DROP), ("Signed Up", SPIKE)}
    stop = found["Viewed", DROP]
    assert (stop.observed, stop.baseline, stop.days, stop.hour) == (0, 20, 7, "2026-11-27T10:00:00Z")
    assert found["Signed Up", SPIKE].observed == 100
    assert detector.tick() == [], "each hour is judged once"
    # Recorded in the log, and in the read model every collector process answers from.
    assert {(a.event, a.kind) for a in world.recorded()} == set(found)
    listed = AnomalyQueries(world.engine).anomalies(START, START + 8 * DAY, None)
    assert {(a.event, a.kind) for a in listed} == set(found)


def test_another_process_judging_the_same_hour_stores_nothing_again(world):
    world.history()
    world.clock.current = START + 7 * DAY + timedelta(hours=1)
    first, second = world.detector(), world.detector()
    assert sorted(a.event for a in first.tick()) == ["Clicked", "Signed Up", "Viewed"]
    assert second.tick() == []
    assert len(world.recorded()) == 3


def test_the_timer_flags_an_hour_without_any_traffic(world):
    """Nothing is sent after the history: the running detector finds the stop on its own."""
    world.history()
    detector = world.detector()

    async def scenario():
        task = asyncio.create_task(detector.run())
        try:
            world.clock.current = START + 6 * DAY + timedelta(minutes=30)  # day 7, 10:35: the last calls came
            await asyncio.sleep(0.1)
            assert world.recorded() == []
            world.clock.current = START + 7 * DAY + timedelta(hours=1, minutes=1, seconds=1)  # day 8, 11:01:01
            for _ in range(200):
                if world.recorded():
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()

    asyncio.run(scenario())
    assert {(a.event, a.kind, a.observed) for a in world.recorded()} == {
        ("Viewed", DROP, 0),
        ("Signed Up", DROP, 0),
        ("Clicked", DROP, 0),
    }


def test_a_new_event_is_not_judged_before_it_has_history(world):
    world.history(days=2)
    world.clock.current = START + 2 * DAY + timedelta(hours=1)
    assert world.detector().tick() == []
    assert world.detector(min_days=2).tick() != []


def test_the_read_model_rebuilt_from_the_log_equals_the_live_one(world, tmp_path):
    world.history()
    world.clock.current = START + 7 * DAY + timedelta(hours=1)
    world.detector().tick()
    rebuilt = readmodel.engine_of(StoreConfig(data_dir=tmp_path / "rebuilt"))
    readmodel.projection(world.store, rebuilt).catch_up()
    span = (START - DAY, START + 8 * DAY)

    def seen(engine):
        anomalies = [a.SerializeToString() for a in AnomalyQueries(engine).anomalies(*span, None)]
        return anomalies, [str(k) for k in ViolationQueries(engine).kinds(*span, None, 3)]

    assert seen(rebuilt) == seen(world.engine) and seen(rebuilt)[0]
    rebuilt.dispose()


def test_processes_sharing_the_read_model_apply_each_page_once(world):
    """Two projections on one read model (two collector processes): whichever commits a page
    first applies it; the other finds its position moved and reads on from there."""
    other = readmodel.projection(world.store, world.engine)
    world.collector.publish_plan("p", json.dumps({"events": {}}))
    world.collector.assign_plan("web", "p", "allow")
    world.send("Unplanned", 3)
    assert world.projection.catch_up() > 0
    world.send("Unplanned", 2)
    other.catch_up()  # it read position 0 when it started: the first page is not applied again
    world.projection.catch_up()
    kinds = ViolationQueries(world.engine).kinds(START - DAY, START + DAY, None, 0)
    assert [k.count for k in kinds] == [5]


def test_the_projection_follows_ingest_from_a_worker_thread(world):
    runner = world.projection

    async def scenario():
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.sleep(0.05)
            world.send("Viewed", 3)  # on the loop, as the collector ingests
            for _ in range(200):
                if volume() == 3:
                    return
                await asyncio.sleep(0.01)
        finally:
            task.cancel()

    def volume():
        with world.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.sum(tables.catalog_events.c.volume))).scalar()

    asyncio.run(scenario())
    assert volume() == 3
    assert runner.catch_up() == 0, "caught up already; the lock lets a query catch up beside the task"
