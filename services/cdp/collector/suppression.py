"""Calls of forgotten persons, dropped at the door.

Identity publishes the identifiers of a forgotten person (IdentifiersSuppressed, by keyed hash)
and lifts them (SuppressionLifted). Every collector process reads that log for itself, with no
tracking of its own (replicas share nothing here), and drops a call carrying a suppressed
identifier before anything of it is encrypted or stored; the drop is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from cdp.api.common.v1 import event_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.platform.eventlog import LogReader
from cdp.platform.identifiers import PREVIOUS, call_identifiers, suppression_key
from cdp.platform.published import decode, topic_of

log = logging.getLogger(__name__)

TOPICS = topic_of(identity_pb2.IdentifiersSuppressed, identity_pb2.SuppressionLifted)
REFRESH_EVERY_S = 0.25
# A batch is checked against a list read at most FRESH_WITHIN_S before it arrived, when identity
# answers within FRESH_WAIT_S of the read's start; past that (identity slow or down) it is admitted
# against the list as it is, rather than held up: no batch waits for a read pending longer, nor
# while identity's last read failed (the background loop goes on trying).
FRESH_WITHIN_S = 0.5
FRESH_WAIT_S = 0.25
PAGE = 1000


class Suppressions:
    def __init__(self, master_key: bytes, identity_log: LogReader | None):
        self._master_key = master_key
        self.log = identity_log
        self.keys: set[str] = set()
        self.position = 0
        self.read_once = identity_log is None
        self.read_at = float("-inf")  # when the last read that reached identity's head began
        self.failing = False  # the last read failed: identity is down or unreachable
        self._warned = False
        self._reading: asyncio.Future[None] | None = None
        self._reading_since = 0.0  # when the pending read began

    async def refresh(self) -> None:
        """Read what identity published since (a no-op without its log). Concurrent callers share
        one read, so pages are applied once and in order."""
        if self.log is None:
            return
        if self._reading is None or self._reading.done():
            self._reading_since = time.monotonic()
            self._reading = asyncio.ensure_future(self._read_to_head())
        await asyncio.shield(self._reading)

    async def fresh(self) -> None:
        """Make the list at most FRESH_WITHIN_S old before a batch is admitted (see FRESH_WAIT_S)."""
        now = time.monotonic()
        if self.log is None or self.failing or now - self.read_at < FRESH_WITHIN_S:
            return
        pending = self._reading is not None and not self._reading.done()
        left = FRESH_WAIT_S - (now - self._reading_since) if pending else FRESH_WAIT_S
        if left <= 0:  # identity has not answered the read in flight: slow or down
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.refresh(), left)

    async def _read_to_head(self) -> None:
        try:
            await self._read_pages()
        except BaseException:
            self.failing = True
            raise
        self.failing = False

    async def _read_pages(self) -> None:
        assert self.log is not None
        began = time.monotonic()
        while True:
            response = await self.log.read(self.position, PAGE, topics=TOPICS)
            for n in response.notifications:
                if n.id <= self.position:
                    continue
                message = decode(n.topic, n.payload)
                if isinstance(message, identity_pb2.IdentifiersSuppressed):
                    self.keys.update(message.keys)
                elif isinstance(message, identity_pb2.SuppressionLifted):
                    self.keys.discard(message.key)
                self.position = n.id
            self.read_once = True
            if len(response.notifications) < PAGE:
                # Not a full page: every suppression up to identity's head is in it, so the next
                # read starts there, not from the last suppression (a rescan of the rest each time).
                self.position = max(self.position, response.head)
                self.read_at = began
                return

    async def follow(self) -> None:
        while True:
            try:
                await self.refresh()
                self._warned = False
            except Exception as error:  # identity is down: keep the list as it was, try again
                if not self._warned:
                    log.warning("collector: reading suppressed identifiers from identity failed: %s", error)
                    self._warned = True
            await asyncio.sleep(REFRESH_EVERY_S)

    async def readiness(self) -> tuple[bool, str]:
        """Ready once the list has been read from identity: before that a forgotten person's calls
        would be admitted, so an orchestrator sends a new collector no traffic until then."""
        if self.read_once:
            return True, f"read from identity up to {self.position}"
        return False, "the suppression list has not been read from identity yet"

    def matched(self, event: event_pb2.Event) -> str:
        """The type of the first suppressed identifier the call carries ("" when none)."""
        if not self.keys:
            return ""
        for kind, value in call_identifiers(event, lambda _type, _name, v: v):
            for candidate in ("user_id", "anonymous_id") if kind == PREVIOUS else (kind,):
                if suppression_key(self._master_key, candidate, value) in self.keys:
                    return candidate
        return ""
