"""Calls of forgotten persons, dropped at the door.

Identity publishes the identifiers of a forgotten person (IdentifiersSuppressed, by keyed hash)
and lifts them (SuppressionLifted). Every collector process reads that log for itself, with no
tracking of its own (replicas share nothing here), and drops a call carrying a suppressed
identifier before anything of it is encrypted or stored; the drop is recorded.

The list as last read is kept in the state directory (keyed hashes only, as identity publishes
them), so a collector that starts while identity is down or not yet up drops a forgotten person's
calls from its first call, where it would otherwise admit them (and encrypt them under a new key)
until its first read. A new process with no such file is not ready until it has read the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path

from cdp.api.common.v1 import event_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.platform.eventlog import LogReader
from cdp.platform.files import write_private
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
CACHE_FORMAT = 1


def cache_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / "suppressions" / "collector.json"


class Suppressions:
    def __init__(self, master_key: bytes, identity_log: LogReader | None, cache: Path | None = None):
        self._master_key = master_key
        self.log = identity_log
        self.keys: set[str] = set()
        self.position = 0
        self.read_once = identity_log is None
        self.cache = cache
        self.from_cache = False  # the list is the one kept by an earlier run, not read yet
        if cache is not None and identity_log is not None:
            self._load()
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
        changed = False
        while True:
            response = await self.log.read(self.position, PAGE, topics=TOPICS)
            if response.head < self.position:
                # Not the log this list was read from (identity's store restored or replaced):
                # read it from the start; what was suppressed stays suppressed until lifted.
                log.warning(
                    "collector: identity's log ends at %d, before the suppression list's %d; reading it again",
                    response.head,
                    self.position,
                )
                self.position, changed = 0, True
                continue
            for n in response.notifications:
                if n.id <= self.position:
                    continue
                message = decode(n.topic, n.payload)
                if isinstance(message, identity_pb2.IdentifiersSuppressed):
                    self.keys.update(message.keys)
                elif isinstance(message, identity_pb2.SuppressionLifted):
                    self.keys.discard(message.key)
                self.position, changed = n.id, True
            self.read_once = True
            if len(response.notifications) < PAGE:
                # Not a full page: every suppression up to identity's head is in it, so the next
                # read starts there, not from the last suppression (a rescan of the rest each time).
                self.position = max(self.position, response.head)
                self.read_at = began
                if changed or self.from_cache:
                    self._save()
                self.from_cache = False
                return

    # The list kept between runs -----------------------------------------------------------------

    def _install_check(self) -> str:
        """Names the install (its master key) without revealing it: a file another install
        wrote is not this one's list."""
        return hmac.new(self._master_key, b"cdp suppression list", hashlib.sha256).hexdigest()[:32]

    def _kept(self) -> tuple[int, list[str]] | None:
        """The list in the file: (position, keys); None when there is none of this install's."""
        assert self.cache is not None
        try:
            kept = json.loads(self.cache.read_bytes())
            if kept.get("format") != CACHE_FORMAT or kept.get("install") != self._install_check():
                log.warning("collector: %s is not this install's suppression list; not used", self.cache)
                return None
            position, keys = kept["position"], kept["keys"]
            if type(position) is not int or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError("position or keys of the wrong type")  # "keys": "ab" would be two keys
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("collector: the kept suppression list %s is unreadable (%s); not used", self.cache, error)
            return None
        return position, keys

    def _load(self) -> None:
        kept = self._kept()
        if kept is not None:
            self.position, self.keys, self.from_cache = kept[0], set(kept[1]), True

    def _save(self) -> None:
        if self.cache is None:
            return
        on_file = self._kept()
        if on_file is not None and on_file[0] > self.position:
            return  # another process on this directory has read further
        kept = {
            "format": CACHE_FORMAT,
            "install": self._install_check(),
            "position": self.position,
            "keys": sorted(self.keys),
        }
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            write_private(self.cache, json.dumps(kept))
        except OSError as error:  # the list in memory stands; the next change writes it again
            log.warning("collector: could not keep the suppression list in %s (%s)", self.cache, error)

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
        if self.from_cache:
            return True, f"as an earlier run read it, up to {self.position}; identity not read yet"
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
