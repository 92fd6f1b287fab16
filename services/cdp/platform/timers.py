"""Per-key timers kept as state: each key (a person, say) has at most one next instant.

The instants come from the application's state (the earliest edge at which something of the key
changes by itself), so a restart arms them again from that state and an overdue one is due at once.
A heap gives the earliest; an entry a later arm() replaced is skipped when it comes up.
"""

from __future__ import annotations

import asyncio
import heapq
from datetime import datetime


class Timers:
    def __init__(self) -> None:
        self.next: dict[str, datetime] = {}  # key -> its armed instant
        self._heap: list[tuple[datetime, str]] = []
        self.wake = asyncio.Event()  # set when an instant earlier than the earliest is armed

    def arm(self, key: str, at: datetime | None) -> None:
        """The key's next instant (None: it has none)."""
        if at is None:
            self.next.pop(key, None)
            return
        if self.next.get(key) == at:
            return
        earliest = self.earliest()
        self.next[key] = at
        heapq.heappush(self._heap, (at, key))
        if earliest is None or at < earliest:
            self.wake.set()

    def earliest(self) -> datetime | None:
        while self._heap:
            at, key = self._heap[0]
            if self.next.get(key) == at:
                return at
            heapq.heappop(self._heap)  # replaced or disarmed since
        return None

    def due(self, now: datetime) -> list[str]:
        """The keys whose instant is at or before now (overdue ones too), disarmed."""
        out: list[str] = []
        while (at := self.earliest()) is not None and at <= now:
            _, key = heapq.heappop(self._heap)
            del self.next[key]
            out.append(key)
        return out

    def clear(self) -> None:
        self.next.clear()
        self._heap.clear()

    def wait_s(self, now: datetime, most: float = 1.0) -> float:
        """How long the timer task may sleep before the earliest instant (at most `most`)."""
        at = self.earliest()
        return most if at is None else min(max((at - now).total_seconds(), 0.0), most)
