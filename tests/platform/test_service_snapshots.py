"""Profile's, segment's and activation's snapshots on the stores they run on (a SQLite file, and
PostgreSQL): from the log the restart bench writes, a state restored from its snapshot equals the
state folded from the whole log, and a snapshot of another code's state or a damaged one is ignored
(the whole log folded)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from cdp.activation.application import ActivationApp
from cdp.bench import restart_logs
from cdp.platform import snapshots as snapshots_module
from cdp.platform.eventlog import Upstream
from cdp.platform.snapshots import open_snapshots
from cdp.platform.store import open_store
from cdp.profile.application import ProfileApp
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from support.kernel import unit_of_work
from support.states import in_order, observed

EVENTS = 3000  # more than a page of every held mapping


def state_of(service: str, uow, snapshots=None):
    if service == "profile":
        return ProfileApp(uow, None, snapshots=snapshots)  # type: ignore[arg-type]  # asked nothing here
    if service == "segment":
        return SegmentApp(uow, Upstream("profile", None, PROFILE_TOPICS), snapshots=snapshots)  # type: ignore[arg-type]
    return ActivationApp(uow, Upstream("segment", None, []), None, None, snapshots=snapshots)  # type: ignore[arg-type]


@pytest.mark.parametrize("service", ["profile", "segment", "activation"])
def test_restored_from_its_snapshot_a_state_equals_its_fold_and_a_bad_snapshot_is_ignored(store_config, service):
    builder = getattr(restart_logs, f"{service}_log")
    builder(store_config.data_dir, EVENTS, lambda _: None, config=store_config)
    store = open_store(store_config, service)
    snapshots = open_snapshots(store_config, service)
    try:
        uow = unit_of_work(store, service)
        full = state_of(service, uow)
        position = asyncio.run(state_of(service, uow, snapshots).take_snapshot())
        assert position == store.head() >= EVENTS
        restored = state_of(service, uow, snapshots)
        assert restored.restored_from == position
        assert restored.held.places  # held, read as touched
        assert observed(restored, service) == observed(full, service)
        assert in_order(restored, service) == in_order(full, service)

        table = snapshots_module.snapshots
        with snapshots.engine.begin() as conn:
            conn.execute(table.update().where(table.c.position == position).values(shape="0" * 64))
        assert state_of(service, uow, snapshots).restored_from == 0  # another code's state
        with snapshots.engine.begin() as conn:
            row = table.c.position == position
            data = conn.execute(sa.select(table.c.data).where(row)).scalar_one()
            damaged = data[:-100] + bytes(100)  # the same length, its checksum as it was
            conn.execute(table.update().where(row).values(shape=restored.snapshot_shape(), data=damaged))
        assert state_of(service, uow, snapshots).restored_from == 0  # damaged
        with snapshots.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1
    finally:
        snapshots.close()
        store.close()
