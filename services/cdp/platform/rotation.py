"""Key-encryption key rotation: re-wrap every live data key under a new KEK, destroy the old.

A forgotten person's data key is gone from the key table at once, but the row versions that held
it wrapped can outlive the forget: in PostgreSQL's WAL segments and dead tuples, in a backup or a
copy of vault.sqlite. They are wrapped under a KEK, and a rotation destroys that KEK, so from the
end of the first rotation after a forget no such copy unwraps, with the master key or without.

    1. take the install's rotation lock (one rotation at a time);
    2. create KEK n+1 in the key store;
    3. switch the key table to it: the switch waits for transactions creating keys under n, and
       every key created after it is wrapped under n+1;
    4. re-wrap the live keys still under older versions, in batches of one transaction each
       (a key destroyed meanwhile stays destroyed);
    5. destroy every older KEK (overwritten, unlinked, the directory synced).

Services go on serving throughout: a key they hold unwrapped stays good (data keys do not change),
and a row they read under the new version is unwrapped by loading the new KEK file. A crash
leaves a state the next rotation completes: the old KEKs are destroyed only once no key needs them.

KeyRotator runs rotations in a service (identity): on a schedule, and soon after each forget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cdp.platform.vault import KeyRow, RotationBusy, Vault

log = logging.getLogger(__name__)

BATCH = 1000  # keys a transaction
AFTER_FORGET_S = 1.0  # forgets within this long share one rotation
BUSY_RETRY_S = 1.0


@dataclass(frozen=True)
class Rotation:
    new_version: int
    destroyed_versions: list[int]
    rewrapped: int
    seconds: float


def rotate(vault: Vault, *, batch: int = BATCH, wait_s: float = 0.0) -> Rotation:
    """One rotation (see the module's docstring). Raises RotationBusy if another one runs for
    longer than wait_s."""
    started = time.perf_counter()
    table, keys = vault.table, vault.keys
    with table.rotation_lock(wait_s):
        current = vault.first_kek()
        new = max([current, *keys.versions()]) + 1
        keys.create(new)
        table.switch_kek(new)
        rewrapped, after = 0, ""
        while rows := table.wrapped_elsewhere(new, after, batch):
            rewrapped += table.rewrap([(row, _rewrapped(vault, row, new)) for row in rows], new)
            after = rows[-1].key_id
        left = table.wrapped_elsewhere(new, "", 1)
        if left:  # cannot happen while the switch holds; never destroy a KEK a key still needs
            raise RuntimeError(f"key rotation: key {left[0].key_id} is still under KEK {left[0].kek_version}")
        old = [v for v in keys.versions() if v < new]
        for version in old:
            keys.destroy(version)
        table.mark_rotated()
        table.scrub()
    return Rotation(new, old, rewrapped, time.perf_counter() - started)


def _rewrapped(vault: Vault, row: KeyRow, version: int) -> bytes:
    return vault.keys.wrap(version, vault.unwrap(row))


class KeyRotator:
    """Rotations in a running service: every interval_s (0: none on a schedule) counted from the
    last rotation of the install (whoever ran it), and AFTER_FORGET_S after a key was destroyed."""

    def __init__(self, vault: Vault, interval_s: float):
        self.vault = vault
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.rotations = 0

    def request(self) -> None:
        """Ask for a rotation soon (from any thread): a forget destroyed keys."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                due = await self._until_due()  # before the wait exists: a cancel here leaves none unawaited
                await asyncio.wait_for(self._wake.wait(), timeout=due)
                await asyncio.sleep(AFTER_FORGET_S)  # a forget: let the ones right after it join
            except TimeoutError:
                pass  # due on schedule
            self._wake.clear()
            await self._rotate()

    async def _until_due(self) -> float | None:
        if self.interval_s <= 0:
            return None
        counts = await asyncio.to_thread(self.vault.table.counts)
        if counts.rotated_at is None:  # no KEK yet: the first key made starts the schedule
            return self.interval_s
        return max((counts.rotated_at - datetime.now(UTC)).total_seconds() + self.interval_s, 0.0)

    async def _rotate(self) -> None:
        while True:
            try:
                done = await asyncio.to_thread(rotate, self.vault)
            except RotationBusy:
                # Another rotation began before we were asked: the one we need begins after it.
                await asyncio.sleep(BUSY_RETRY_S)
                continue
            except Exception:
                log.exception("key rotation failed; trying again in a minute")
                await asyncio.sleep(60)
                continue
            self.rotations += 1
            log.info(
                "key rotation: %d key(s) re-wrapped under KEK %d, KEK(s) %s destroyed, in %.2fs",
                done.rewrapped,
                done.new_version,
                done.destroyed_versions,
                done.seconds,
            )
            return
