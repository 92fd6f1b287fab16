"""Time as the platform writes it: RFC 3339, UTC, millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The time, as an application's port: the system clock in a service, a manual one in tests."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


SYSTEM_CLOCK = SystemClock()


def now_iso(clock: Clock = SYSTEM_CLOCK) -> str:
    return format_iso(clock.now())


def parse_iso(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 time; naive times are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def format_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
