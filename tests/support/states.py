"""What profile's, segment's and activation's states hold, as plain data: to compare a state restored
from a snapshot with the state folded from the whole log."""

from __future__ import annotations

from cdp.platform.held import Held, HeldList
from cdp.platform.state import EventSourced

# What each state holds, as the fold leaves it (the profiles' fold cache and segment's compiled
# truths are caches: built again as read).
OBSERVED = {
    "profile": [
        "state.partials",
        "state.owner",
        "state.keys",
        "state.absorbed",
        "state.into",
        "published",
        "accounts",
        "computed.traits",
        "versions",
    ],
    "segment": [
        "audiences",
        "definitions",
        "created",
        "by_event",
        "dependents",
        "predicates",
        "horizon",
        "kept",
        "keys",
        "facts",
        "memberships.members",
        "history.changes",
        "history.by_audience",
        "history.by_person",
        "history.by_pair",
        "lifecycle",
        "next_change",
        "versions",
    ],
    "activation": [
        "destinations",
        "sealed_secrets",
        "syncs",
        "deliveries",
        "sent",
        "waiting",
        "sequence",
        "approvals",
        "retrying",
        "dead",
        "versions",
    ],
}


def plain(value):
    if isinstance(value, Held):
        return dict(value.plain())
    if isinstance(value, HeldList):
        return value.plain()
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "recent"):  # Versions
        return dict(value)
    return value


def observed(app: EventSourced, service: str) -> dict:
    out = {}
    for name in OBSERVED[service]:
        value = app
        for part in name.split("."):
            value = getattr(value, part)
        out[name] = plain(value)
    return out


def in_order(app: EventSourced, service: str) -> dict:
    """Each mapping's keys in order (once every page is read, as a fold leaves them)."""
    app.held.read_all()
    out = {}
    for name in OBSERVED[service]:
        value = app
        for part in name.split("."):
            value = getattr(value, part)
        if isinstance(value, dict):
            out[name] = list(value)
    return out
