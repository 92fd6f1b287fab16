"""The port every destination kind implements, and what it is handed and answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One delivery as a destination sends it.

    delivery_id: the same on every attempt; receivers deduplicate by it.
    person_key: the key a table or stream row is upserted or deleted by (the person id).
    action: "entered" or "exited" (membership events), "upsert" or "delete" (the member's record).
    record: the mapped fields egress allowed, in clear (revealed just before sending).
    body: the JSON document a message-shaped kind (webhook, queue, stream) sends.
    timestamp: when the change happened (ISO 8601), signed by kinds that sign.
    """

    delivery_id: str
    person_key: str
    action: str
    record: dict[str, Any]
    body: bytes
    timestamp: str


@dataclass(frozen=True)
class Outcome:
    """What one attempt at one message came to.

    retryable: worth trying again (timeouts, 5xx, 408, 429, a broker's nack); a 4xx is not.
    retry_after_s: the wait the destination asked for (Retry-After), if it asked.
    disable: the destination says it is gone for good (HTTP 410): stop sending to it.
    status: the protocol's status (an HTTP status; 0 where the protocol has none).
    extra: what a kind adds: `duplicate` (the receiving side already had this delivery id: NATS,
    Redis, file) with `seq` (NATS), `entry_id` (Redis) or `file` (file); `applied` (PostgreSQL:
    whether the row changed).
    """

    ok: bool
    status: int = 0
    error: str = ""
    retryable: bool = True
    retry_after_s: float | None = None
    disable: bool = False
    latency_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Destination(Protocol):
    kind: str

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        """One Outcome per message, in order. Never raises for a failure of the outside system:
        that is an Outcome with ok False."""
        ...

    async def close(self) -> None: ...
