"""Activation rules: destinations, syncs and their mappings, what a delivery carries, and when to
retry it."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import orjson

from cdp.platform.errors import InvalidArgument

DESTINATION_TYPES = ("webhook", "postgres", "rabbitmq", "nats", "redis", "file")  # the registry's KINDS
SYNC_MODES = ("membership", "upsert", "mirror")
FIRST_BACKOFF_S = 0.5
RETRY_WINDOW_S = 4 * 3600.0  # a delivery is retried this long after its first attempt
MAX_BACKOFF_S = 3600.0
CONCURRENCY = 32  # sends in flight per destination: each waits mostly on the receiver
RATE_PER_S = 2000.0  # sends started a second per destination, unless a destination says fewer
NAME_RULE = "must be 1 to 128 characters"


class InvalidDestination(InvalidArgument):
    """A destination that breaks a rule; the message names the field."""


class InvalidSync(InvalidArgument):
    """A sync that breaks a rule; the message names the field."""


def check_destination(name: str, type_: str, url: str, purpose: str) -> None:
    if not name.strip():
        raise InvalidDestination("name: is required")
    if len(name) > 128:
        raise InvalidDestination(f"name: {NAME_RULE}")
    if type_ not in DESTINATION_TYPES:
        raise InvalidDestination(f"type: must be one of {', '.join(DESTINATION_TYPES)}")
    parsed = urlparse(url)
    if type_ == "webhook" and url and (parsed.scheme not in ("http", "https") or not parsed.netloc):
        raise InvalidDestination("url: must be an http or https URL")
    if not purpose.strip():
        raise InvalidDestination("purpose: is required (what the data is used for there)")


@dataclass(frozen=True)
class Limits:
    """How a destination's queue sends: the retry window, the longest wait, in flight, per second."""

    retry_window_s: float = RETRY_WINDOW_S
    max_backoff_s: float = MAX_BACKOFF_S
    concurrency: int = CONCURRENCY
    rate_per_s: float = RATE_PER_S


def check_limits(retry_window_s: float, max_backoff_s: float, concurrency: int, rate_per_s: float) -> Limits:
    """The limits asked for, defaults where 0; a negative or absurd one is refused by name."""
    checks = (
        ("settings.retry_window_s", retry_window_s, 30 * 24 * 3600.0),
        ("settings.max_backoff_s", max_backoff_s, 24 * 3600.0),
        ("settings.concurrency", float(concurrency), 256.0),
        ("settings.rate_per_s", rate_per_s, 100_000.0),
    )
    for name, value, most in checks:
        if not math.isfinite(value) or value < 0 or value > most:
            raise InvalidDestination(f"{name}: must be between 0 (the default) and {most:g}")
    return Limits(
        retry_window_s or RETRY_WINDOW_S,
        max_backoff_s or MAX_BACKOFF_S,
        concurrency or CONCURRENCY,
        rate_per_s or RATE_PER_S,
    )


# Syncs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """Which traits a sync sends, under which names, and constants sent with each record."""

    fields: tuple[tuple[str, str], ...] = ()  # (trait, name at the destination)
    constants: tuple[tuple[str, Any], ...] = ()

    def traits(self, available: set[str]) -> list[str]:
        """The traits to send of those a profile has (all of them without fields)."""
        if not self.fields:
            return sorted(available)
        return [trait for trait, _ in self.fields if trait in available]

    def name_of(self, trait: str) -> str:
        return next((to for t, to in self.fields if t == trait), trait)


def check_sync(mode: str, fields: list[tuple[str, str]], constants: dict[str, str]) -> Mapping:
    if mode not in SYNC_MODES:
        raise InvalidSync(f"mode: must be one of {', '.join(SYNC_MODES)}")
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for n, (trait, to) in enumerate(fields):
        if not trait.strip():
            raise InvalidSync(f"mapping.fields[{n}].trait: is required")
        name = to.strip() or trait.strip()
        if name in seen:
            raise InvalidSync(f"mapping.fields[{n}].to: {name} is sent twice")
        seen.add(name)
        out.append((trait.strip(), name))
    parsed: list[tuple[str, Any]] = []
    for name, text in sorted(constants.items()):
        if not name.strip():
            raise InvalidSync("mapping.constants: a name is empty")
        if name in seen:
            raise InvalidSync(f"mapping.constants.{name}: is also a mapped field")
        try:
            parsed.append((name, orjson.loads(text)))
        except orjson.JSONDecodeError:
            raise InvalidSync(f"mapping.constants.{name}: must be a JSON value") from None
    return Mapping(tuple(out), tuple(parsed))


def fingerprint(stored_values: dict[str, str]) -> str:
    """The mapped traits as stored (personal ones as their tokens): equal when nothing mapped changed."""
    return hashlib.sha256(orjson.dumps(stored_values, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def sync_actions(mode: str) -> tuple[str, str]:
    """What a member's entry and exit are sent as."""
    return ("entered", "exited") if mode == "membership" else ("upsert", "delete")


# Retrying ------------------------------------------------------------------------------------


def backoff(attempt: int, max_backoff_s: float = MAX_BACKOFF_S, rng: random.Random | None = None) -> float:
    """Seconds to wait after the attempt-th failure: exponential, capped, with full jitter (a
    uniform draw below the cap, so a crowd of retries after an outage spreads out)."""
    cap = min(FIRST_BACKOFF_S * 2.0 ** min(attempt - 1, 40), max_backoff_s)
    return (rng or random).uniform(0.0, cap)


@dataclass(frozen=True)
class Verdict:
    """After an attempt: delivered, retry after `delay_s`, dead-letter, or disable the destination."""

    kind: str  # delivered, retry, dead_letter, disable
    delay_s: float = 0.0


def after_attempt(
    *,
    ok: bool,
    retryable: bool,
    retry_after_s: float | None,
    disable: bool,
    attempt: int,
    elapsed_s: float,
    limits: Limits,
    rng: random.Random | None = None,
) -> Verdict:
    """What follows an attempt of a series that started elapsed_s ago."""
    if ok:
        return Verdict("delivered")
    if disable:
        return Verdict("disable")  # the delivery waits, pending, for the destination's resumption
    if not retryable:
        return Verdict("dead_letter")
    delay = backoff(attempt, limits.max_backoff_s, rng)
    if retry_after_s is not None and retry_after_s >= 0:
        delay = retry_after_s  # the destination said when
    if elapsed_s + delay > limits.retry_window_s:
        return Verdict("dead_letter")
    return Verdict("retry", delay)


# Payloads ------------------------------------------------------------------------------------


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
    mapping: Mapping | None = None,
    sync_id: str = "",
) -> dict[str, Any]:
    """The body a destination gets: only the traits egress allowed, under their mapped names, and
    the mapping's constants. Membership events are audience.entered/exited; records
    profile.upsert/delete."""
    mapping = mapping or Mapping()
    kind = f"audience.{action}" if action in ("entered", "exited") else f"profile.{action}"
    record = {mapping.name_of(name): traits[name] for name in allowed if name in traits}
    if action != "delete":
        record.update(dict(mapping.constants))
    body: dict[str, Any] = {
        "delivery_id": delivery_id,
        "type": kind,
        "audience": {"id": audience_id, "name": audience_name},
        "person_id": person_id,
        "traits": record,
        "withheld": withheld,
        "decision_id": decision_id,
        "at": at,
    }
    if sync_id:
        body["sync_id"] = sync_id
    return body


@dataclass
class AttemptState:
    attempt: int
    ok: bool
    http_status: int
    error: str
    at: str
    latency_ms: float
    series: int


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
    sync_id: str = ""
    scheduled_at: str = ""
    sequence: int = 0  # the order it was stored in (a replay moves it to the end): per-person order
    series: int = 1
    series_started: str = ""  # when the current series' first attempt was made
    next_attempt_at: str = ""  # when a failed attempt is to be retried
    history: list[AttemptState] = field(default_factory=list)
