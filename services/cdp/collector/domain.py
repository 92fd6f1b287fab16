"""Collector rules: what a well-formed tracking call is (the Segment spec).

A call is any object with the envelope's attributes (type, message_id, user_id,
...); nothing here knows how it arrived.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from cdp.platform.clock import format_iso, parse_iso

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
# An IngestStream's events: its one answer holds an ack each, plus the field at fault of a rejected
# one (bounded by the batch's bytes), well within gRPC's 16 MB message.
MAX_STREAM_EVENTS = 25_000
MAX_ID_LENGTH = 512
MAX_DEPTH = 32  # nesting of properties, traits and context
JSON_FIELDS = ("properties", "traits", "context")
TIME_FIELDS = ("timestamp", "sent_at", "original_timestamp")
ID_FIELDS = ("message_id", "user_id", "anonymous_id", "group_id", "previous_id")
# Event, page and screen names: the catalog, plans and metrics' operators read them as names (a
# terminal escape would reach `cdp catalog`'s screen, a NUL cannot be PostgreSQL text).
NAME_FIELDS = ("event", "name")
MAX_NAME_LENGTH = 512
# Every time a call carries, and the one computed from them, must lie in these years once in UTC:
# followers normalise times to UTC, and a time near the ends of datetime's range cannot be.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
TIME_RANGE = f"years {EARLIEST_YEAR}..{LATEST_YEAR} (UTC)"
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# Spec names of envelope fields, for error messages that match what clients send.
SPEC_NAMES = {
    "message_id": "messageId",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "sent_at": "sentAt",
    "original_timestamp": "originalTimestamp",
}


class Call(Protocol):
    """A tracking call's envelope, as this module reads it (an Event message has it); the JSON
    fields (properties, traits, context) are JSON text."""

    @property
    def type(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def anonymous_id(self) -> str: ...
    @property
    def group_id(self) -> str: ...
    @property
    def previous_id(self) -> str: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def sent_at(self) -> str: ...
    @property
    def original_timestamp(self) -> str: ...
    @property
    def properties(self) -> str: ...
    @property
    def traits(self) -> str: ...
    @property
    def context(self) -> str: ...


class PlanViolation(Protocol):
    """A tracking plan's violation (collector.plans.Violation), with the action its source's
    settings give it (allow, omit, quarantine, block; empty: the mode's)."""

    @property
    def field(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def keyword(self) -> str: ...
    @property
    def action(self) -> str: ...


@dataclass(frozen=True)
class Rejection:
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


def _reject(field: str, rule: str) -> Rejection:
    return Rejection(SPEC_NAMES.get(field, field), rule)


def validate(call: Call, size: int, received: datetime | None = None) -> Rejection | None:
    """The first rule the call breaks, or None when it is well-formed."""
    return check(call, size, received)[0]


def check(
    call: Call, size: int, received: datetime | None = None
) -> tuple[Rejection | None, dict[str, dict[str, Any]]]:
    """validate(), and the call's JSON fields (properties, traits, context) decoded on the way,
    each {} when absent, so that nothing later decodes them again.

    What passes, every follower can process: times lie in TIME_RANGE (with received, the time
    corrected_timestamp() computes from them too), JSON fields and context.traits are objects,
    ids are bounded and free of control characters."""
    if call.type not in CALL_TYPES:
        return _reject("type", f"must be one of {', '.join(CALL_TYPES)}"), {}
    if size > MAX_EVENT_BYTES:
        return _reject("event", f"is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes (32 KB)"), {}
    rejection = _envelope(call)
    if rejection is not None:
        return rejection, {}
    fields: dict[str, dict[str, Any]] = {}
    for name in JSON_FIELDS:
        text = getattr(call, name)
        if not text:
            fields[name] = {}
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return _reject(name, "must be a JSON object"), {}
        if not isinstance(value, dict):
            return _reject(name, "must be a JSON object"), {}
        if json_too_deep(text, value):
            return _reject(name, f"nests deeper than {MAX_DEPTH} levels"), {}
        fields[name] = value
    if fields["context"].get("traits") is not None and not isinstance(fields["context"]["traits"], dict):
        return _reject("context.traits", "must be a JSON object"), {}
    for name in TIME_FIELDS:
        text = getattr(call, name)
        rule = time_rule(text) if text else None
        if rule is not None:
            return _reject(name, rule), {}
    if received is not None and not call.timestamp and call.original_timestamp and call.sent_at:
        corrected = _corrected(call, received)
        if corrected is None or not EARLIEST_YEAR <= corrected.year <= LATEST_YEAR:
            return _reject(
                "original_timestamp",
                f"corrected by sentAt (receivedAt - (sentAt - originalTimestamp)), falls outside {TIME_RANGE}",
            ), {}
    return None, fields


def _envelope(call: Call) -> Rejection | None:
    """The first rule of ids and of what each call type requires that the call breaks."""
    if not call.message_id:
        return _reject("message_id", "is required")
    for names, limit in ((ID_FIELDS, MAX_ID_LENGTH), (NAME_FIELDS, MAX_NAME_LENGTH)):
        for name in names:
            value = getattr(call, name)
            if len(value) > limit:
                return _reject(name, f"is longer than {limit} characters")
            if _CONTROL.search(value):
                return _reject(name, "must not contain control characters")
    if not call.user_id and not call.anonymous_id:
        return _reject("user_id", "userId or anonymousId is required")
    if call.type == "track" and not call.event.strip():
        return _reject("event", "is required for track")
    if call.type == "group" and not call.group_id:
        return _reject("group_id", "is required for group")
    if call.type == "alias":
        if not call.previous_id:
            return _reject("previous_id", "is required for alias")
        if not call.user_id:
            return _reject("user_id", "is required for alias")
    return None


def is_good_id(value: str) -> bool:
    """Whether an id passes the id rules (bounded, no control characters): only such ids name
    a subject in the key table (PostgreSQL text holds no NUL)."""
    return len(value) <= MAX_ID_LENGTH and not _CONTROL.search(value)


def json_too_deep(text: str, value: Any) -> bool:
    """too_deep(value), where text is its JSON: nesting needs an opening bracket a level, so text
    with few cannot be too deep, and the walk (most of what checking a call costs) is skipped."""
    return text.count("{") + text.count("[") > MAX_DEPTH and too_deep(value)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded JSON value nests deeper than limit (checked without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            child for v in level if isinstance(v, (dict, list)) for child in (v.values() if isinstance(v, dict) else v)
        ]
        if not level:
            return False
    return any(isinstance(v, (dict, list)) for v in level)


def time_rule(text: str) -> str | None:
    """The rule a time breaks: not a time, or outside TIME_RANGE once in UTC; None when it is good."""
    try:
        value = parse_iso(text)
    except ValueError:
        return "must be an ISO 8601 / RFC 3339 time"
    try:
        year = value.astimezone(UTC).year
    except OverflowError:  # 9999-12-31T23:59:59-10:00 is in year 10000 in UTC
        year = 0
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return f"must lie within {TIME_RANGE}"
    return None


def _corrected(call: Call, received: datetime) -> datetime | None:
    """receivedAt - (sentAt - originalTimestamp); None when it is past datetime's range."""
    try:
        return (received - (parse_iso(call.sent_at) - parse_iso(call.original_timestamp))).astimezone(UTC)
    except OverflowError:
        return None


def corrected_timestamp(call: Call, received: datetime) -> str:
    """When the call happened: a client clock is corrected by how far its sentAt
    was off (receivedAt - (sentAt - originalTimestamp)); what it sent is kept.
    Only for a call that check() passed with this received time."""
    if call.original_timestamp and call.sent_at:
        corrected = _corrected(call, received)
        assert corrected is not None, "check() refuses a call whose corrected time is out of range"
        return format_iso(corrected)
    return call.original_timestamp or format_iso(received)


# The outcome of one call ------------------------------------------------------------------

ACCEPT, QUARANTINE, REJECT = "accept", "quarantine", "reject"


@dataclass(frozen=True)
class Outcome:
    """What becomes of a checked call: accepted (its violations recorded), quarantined until a
    fixed plan lets it through, or rejected with the field and the rule; with the properties
    cdp.collect drops from it (whenever cdp.collect lets it in, even if the plan rejects it)."""

    kind: str
    field: str = ""
    rule: str = ""  # as the client is told
    recorded_rule: str = ""  # as the rejection is recorded (the plan's own words)
    by_policy: bool = False  # rejected by cdp.collect rather than by the plan
    drop: tuple[str, ...] = ()
    violations: tuple[PlanViolation, ...] = ()  # the plan's


def allowed(decision: dict[str, Any]) -> bool:
    """Whether cdp.collect lets the call in (its decision's result)."""
    return bool(decision.get("allow", False))


def dropped(decision: dict[str, Any]) -> tuple[str, ...]:
    """The properties cdp.collect drops from a call it lets in: dropped before the plan sees them."""
    return tuple(decision.get("drop", ())) if allowed(decision) else ()


MODE_ACTIONS = {"allow": "allow", "quarantine": "quarantine", "reject": "block"}  # a violation's, by mode


def outcome(
    decision: dict[str, Any], violations: Iterable[PlanViolation], mode: str = "", plan: tuple[str, int] | None = None
) -> Outcome:
    """The outcome of one checked call, from the result of cdp.collect's decision and the
    violations of the source's plan (name, version) on what the decision kept, each with its
    action (a violation without one takes the mode's: allow, quarantine, reject). A blocked
    violation rejects the call (the first is named), a quarantined one holds it."""
    if not allowed(decision):
        reasons = "; ".join(decision.get("reasons", [])) or "refused by cdp.collect"
        return Outcome(REJECT, "event", reasons, reasons, by_policy=True)
    drop, violations = dropped(decision), tuple(violations)
    actions = [v.action or MODE_ACTIONS.get(mode, "allow") for v in violations]
    if "block" in actions:
        first = violations[actions.index("block")]
        rule = first.rule
        if "tracking plan" not in rule and plan is not None:
            rule = f"{rule}; tracking plan {plan[0]} v{plan[1]}"
        return Outcome(REJECT, first.field, rule, first.rule, drop=drop, violations=violations)
    if "quarantine" in actions:
        return Outcome(QUARANTINE, drop=drop, violations=violations)
    return Outcome(ACCEPT, drop=drop, violations=violations)
