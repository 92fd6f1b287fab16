"""The access log: every read of personal data in clear, recorded per read.

A decision is recorded once (content-addressed) and says what a caller may do, not what it did;
so each time personal values leave a service in clear (a profile or an identifier export shown to
a caller allowed to see them, traits sent to a destination) the service records an AccessRecorded:
the caller and its roles, the person, the paths read in clear, the purpose, the time, and the id
of the decision that allowed it. It holds ids and field names, never a value. A masked read shows
nothing personal and records nothing here (its access decision is in the decision log).

Access records are links of the service's decision chain (hashed, signed and witnessed with it)
and are written by the unit of work like any record. Group commit: the reads that finish within
one turn of the event loop (or, while reads arrive back to back, within LINGER_S) share one
transaction, and each read is answered only once that transaction is stored; when it fails, so
do the reads, and none is answered. A read that was recorded may still fail to reach its caller
(the connection drops): the log errs on the side of a read that may not have happened.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdp.api.policy.v1.decision_pb2 import AccessRecorded
from cdp.platform.auth import Caller
from cdp.platform.clock import now_iso
from cdp.platform.errors import InvalidArgument, Unavailable
from cdp.platform.personal import MASK
from cdp.platform.sealed import params, sealed
from cdp.platform.vault import is_token

if TYPE_CHECKING:
    from cdp.platform.unit_of_work import UnitOfWork

# A purpose is a short label (a ticket kind, a process), never free text that could hold a value.
PURPOSE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
BUSY_S = 0.02  # a commit this recent means reads are arriving back to back
LINGER_S = 0.002  # then a read waits this long for others to share its commit


@dataclass(frozen=True)
class Read:
    """What one read showed in clear of one person."""

    person_id: str
    fields: Sequence[str]
    reference: str = ""  # an id the read went with (a delivery)


def purpose_of(stated: str, operation: str, field: str = "purpose") -> str:
    """The purpose to record: the request's, checked, else the operation's name."""
    stated = stated.strip()
    if not stated:
        return operation.rsplit("/", 1)[-1]
    if not PURPOSE.fullmatch(stated):
        raise InvalidArgument(
            field, "a short label: lowercase letters, digits and _ . : - (at most 64), starting with a letter or digit"
        )
    return stated


class AccessLog:
    def __init__(self, uow: UnitOfWork, service: str):
        self.uow = uow
        self.service = service
        self._queue: list[tuple[list[AccessRecorded], asyncio.Future[None]]] = []
        self._flushing = False
        self._flushed_at = float("-inf")

    async def record(
        self,
        caller: Caller,
        reads: Sequence[Read],
        *,
        purpose: str = "",
        operation: str = "",
        decision_id: str = "",
    ) -> None:
        """Record these reads and return once they are stored (raise Unavailable if they could
        not be). operation: the caller's RPC unless given; decision_id: the one that admitted it."""
        operation = operation or caller.method
        at = now_iso()
        records = [
            AccessRecorded(
                access_id=str(uuid.uuid4()),
                at=at,
                service=self.service,
                operation=operation,
                caller=caller.subject,
                caller_kind=caller.kind,
                roles=list(caller.roles),
                person_id=read.person_id,
                fields=sorted(set(read.fields)),
                purpose=purpose or purpose_of("", operation),
                decision_id=decision_id or caller.decision_id,
                reference=read.reference,
            )
            for read in reads
            if read.fields
        ]
        if not records:
            return
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[None] = loop.create_future()
        self._queue.append((records, stored))
        if not self._flushing:
            self._flushing = True
            # After the other reads of this turn have queued theirs; while reads keep coming (the
            # last commit was moments ago), a little later, so that more of them share the commit.
            if loop.time() - self._flushed_at < BUSY_S:
                loop.call_later(LINGER_S, self._flush)
            else:
                loop.call_soon(self._flush)
        # A caller gone away does not take its record back (nor leaves its failure unobserved).
        stored.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(stored)

    def _flush(self) -> None:
        self._flushing = False
        self._flushed_at = asyncio.get_running_loop().time()
        batch, self._queue = self._queue, []
        try:
            self.uow.commit(chained=[r for records, _ in batch for r in records])
        except Exception as error:
            for _, stored in batch:
                if not stored.done():
                    stored.set_exception(Unavailable(f"the access record could not be stored: {error}"))
            return
        for _, stored in batch:
            if not stored.done():
                stored.set_result(None)


def revealed(stored: Any, shown: Any, path: str) -> Iterator[str]:
    """The paths under path where stored (a decoded JSON value) holds a personal value's token
    and shown holds it in clear: not a token, not masked, not erased (null)."""
    if is_token(stored):
        if shown is not None and not is_token(shown) and shown != MASK:
            yield path
    elif isinstance(stored, str) and isinstance(shown, str) and stored != shown:
        # A URL or query string whose personal parameters are sealed in place: each one shown.
        opened = {(param.marker, param.name): param.value for param in params(shown)}
        for param in params(stored):
            value = opened.get((param.marker, param.name))
            if sealed(param.value) and value and not sealed(value) and value != MASK:
                yield f"{path}{param.marker}{param.name}"
    elif isinstance(stored, dict):
        for key, value in stored.items():
            yield from revealed(value, shown.get(key) if isinstance(shown, dict) else None, f"{path}.{key}")
    elif isinstance(stored, list):
        items = shown if isinstance(shown, list) else []
        found: dict[str, None] = {}
        for i, value in enumerate(stored):
            for p in revealed(value, items[i] if i < len(items) else None, f"{path}[]"):
                found[p] = None
        yield from found
