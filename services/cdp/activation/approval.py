"""Four eyes on a sync: the approval state of what it would send, pending, approved or rejected.

An approval holds for one fingerprint of the sync: its own version, the version of its audience's
definition, its mapping and its destination's version. Any change to one of them resets it to
pending; nothing is sent unless the approval is of the fingerprint in force (may_send).

Who may request, approve or reject is not decided here: each step applies the result of a recorded
decision of data.cdp.sync.decision (allow, state, reasons), named by its decision id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cdp.platform.errors import Conflict, InvalidArgument, PermissionDenied

ACTIONS = ("request", "approve", "reject")


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Fingerprint:
    """What an approval is of."""

    sync_id: str
    sync_version: int
    audience_version: int
    mapping: str  # mapping_digest() of the sync's mapping
    destination_version: int

    def as_input(self) -> str:
        """The version cdp.sync decides on: one string naming the whole fingerprint."""
        return f"{self.sync_version}.{self.audience_version}.{self.destination_version}.{self.mapping}"


def mapping_digest(mapping: Mapping[str, Any]) -> str:
    """A digest of a mapping (target field -> trait, or richer): equal mappings, equal digests."""
    return hashlib.sha256(json.dumps(mapping, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    fingerprint: Fingerprint
    status: Status = Status.PENDING
    requires_approval: bool = True
    decision_id: str = ""  # the recorded cdp.sync decision the status rests on ("" after a change)
    by: str = ""  # who requested, approved or rejected it


def changed(approval: Approval, fingerprint: Fingerprint) -> Approval:
    """The sync, its audience, mapping or destination changed: what was approved is not this."""
    if fingerprint == approval.fingerprint:
        return approval
    return Approval(fingerprint)


def decided(
    approval: Approval | None,
    fingerprint: Fingerprint,
    action: str,
    result: Mapping[str, Any],
    decision_id: str,
    by: str,
) -> Approval:
    """The approval after a recorded cdp.sync decision on this fingerprint. A refusal raises
    PermissionDenied (its reasons, the decision); approving or rejecting another fingerprint than
    the one in force (changed since it was shown), or approving what no one requested, is a Conflict."""
    if action not in ACTIONS:
        raise InvalidArgument("action", f"must be one of {', '.join(ACTIONS)}")
    if not result.get("allow"):
        raise PermissionDenied(list(result.get("reasons", [])), decision_id, field="action")
    if action == "request":
        status = Status(result.get("state", Status.PENDING))
        requires = bool(result.get("requires_approval", True))
        return Approval(fingerprint, status, requires, decision_id, by)
    if approval is None:
        raise Conflict(f"{action}: no approval was requested for this sync")
    if fingerprint != approval.fingerprint:
        raise Conflict(f"{action}: the sync changed since this version was shown; look at it again")
    if action == "approve":
        if approval.status is Status.REJECTED:
            raise Conflict("approve: this version was rejected; a change asks for approval again")
        return replace(approval, status=Status.APPROVED, decision_id=decision_id, by=by)
    return replace(approval, status=Status.REJECTED, decision_id=decision_id, by=by)


def may_send(approval: Approval | None, fingerprint: Fingerprint | None = None) -> bool:
    """Whether the sync may send: approved, and (given the fingerprint in force) approved for it."""
    if approval is None or approval.status is not Status.APPROVED:
        return False
    return fingerprint is None or fingerprint == approval.fingerprint
