"""Activation rules: destinations, what a delivery carries, and when to retry it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cdp.platform.errors import InvalidArgument

DESTINATION_TYPES = ("webhook",)
MAX_ATTEMPTS = 6
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 30.0


class InvalidDestination(InvalidArgument):
    """A destination that breaks a rule; the message names the field."""


def check_destination(name: str, type_: str, url: str, purpose: str) -> None:
    if not name.strip():
        raise InvalidDestination("name: is required")
    if type_ not in DESTINATION_TYPES:
        raise InvalidDestination(f"type: must be one of {', '.join(DESTINATION_TYPES)}")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidDestination("url: must be an http or https URL")
    if not purpose.strip():
        raise InvalidDestination("purpose: is required (what the data is used for there)")


def backoff(attempt: int) -> float:
    """Seconds to wait after the attempt-th failure: exponential, capped."""
    return min(FIRST_BACKOFF_S * 2.0 ** (attempt - 1), MAX_BACKOFF_S)


def payload(
    *,
    delivery_id: str,
    action: str,
    audience_id: str,
    audience_name: str,
    person_id: str,
    traits: dict[str, Any],
    allowed: list[str],
    withheld: list[str],
    decision_id: str,
    at: str,
) -> dict[str, Any]:
    """The body posted to a webhook: only the traits egress allowed."""
    return {
        "delivery_id": delivery_id,
        "type": f"audience.{action}",
        "audience": {"id": audience_id, "name": audience_name},
        "person_id": person_id,
        "traits": {name: traits[name] for name in allowed if name in traits},
        "withheld": withheld,
        "decision_id": decision_id,
        "at": at,
    }


@dataclass
class DeliveryState:
    delivery_id: str
    destination_id: str
    audience_id: str
    person_id: str
    action: str
    payload: str
    decision_id: str
    withheld: list[str] = field(default_factory=list)
    status: str = "pending"  # pending, delivered, dead_lettered
    attempts: int = 0
    last_error: str = ""
