"""`cdp lineage delivery`: why a destination received each field of a delivery, or did not.

activation answers what it recorded with the delivery (ExplainDelivery: the cause, the sync and
audience versions, the membership change, the consent and approval it was decided with, the fields
carried by name); activation's decision log holds the egress decision (which fields were withheld,
by which rule) and the approval's cdp.sync decision.
"""

from __future__ import annotations

from typing import Any

from cdp.lineage.reader import Reader, attempt, decision_json
from cdp.platform.sealed import class_name

EGRESS = "data.cdp.egress.decision"
LOG = "activation's decision log"
BY_VALUE = "personal by value: cdp.pii names no class for it, so no purpose can be shown to allow it"


def withheld_reason(name: str, result: dict[str, Any]) -> str:
    """Why egress withheld a field: its reason in the decision (a value sealed at depth, trait.field,
    by its field's class name), else activation's rule for values personal by value alone."""
    reasons = result.get("reasons") or {}
    if name in reasons:
        return str(reasons[name])
    _, _, field = name.partition(".")
    if field and class_name(field) in reasons:
        return str(reasons[class_name(field)])
    if result.get("refused"):
        return "; ".join(result["refused"])
    return BY_VALUE


def cause_json(answer: Any) -> dict[str, Any]:
    cause = answer.cause
    removed = cause.endswith("-removed")
    if cause.startswith("run-"):
        kind = "the sync ran (approved, created, changed or resumed): the destination lacked this"
    elif cause.startswith("profile-"):
        kind = "a profile change"
    elif cause:
        kind = "a membership change"
    else:
        kind = "not recorded"
    out: dict[str, Any] = {"kind": kind, "cause": cause, "removed_for_consent": removed}
    if answer.HasField("membership"):
        m = answer.membership
        out["membership"] = {
            "entered": m.entered,
            "audience_version": m.audience_version,
            "cause": m.cause,
            "cause_event_id": m.cause_event_id,
            "at": m.at,
            "ref": m.ref,
        }
    return out


def delivery_lineage(reader: Reader, delivery_id: str) -> dict:
    """The lineage of one delivery, as JSON-ready data; raises activation's refusal."""
    answer = reader.explain_delivery(delivery_id)
    d, sync, destination = answer.delivery, answer.sync, answer.destination
    records = attempt(lambda: reader.decisions("activation", [d.decision_id, answer.approval.decision_id]))
    out: dict[str, Any] = {
        "delivery": {
            "delivery_id": d.delivery_id,
            "person_id": d.person_id,
            "action": d.action,
            "status": d.status,
            "attempts": d.attempts,
            "scheduled_at": d.scheduled_at,
        },
        "recorded": answer.recorded,
        "destination": {
            "destination_id": destination.destination_id or d.destination_id,
            "name": destination.name,
            "type": destination.type,
            "purposes": list(destination.purposes) or [destination.purpose],
            "consent_categories": list(destination.consent_categories),
            "version": destination.version,
        },
        "sync": {
            "sync_id": d.sync_id,
            "version": answer.sync_version or None,
            "version_now": sync.version or None,
            "mode": sync.mode,
        },
        "audience": {"audience_id": d.audience_id, "version": answer.audience_version or None},
        "cause": cause_json(answer),
    }
    approval: dict[str, Any] = {"decision_id": answer.approval.decision_id or None}
    if answer.HasField("approval"):
        a = answer.approval
        approval |= {"status": a.status, "action": a.action, "by": a.by, "at": a.at, "fingerprint": a.fingerprint}
        approval["requires_approval"] = a.requires_approval
        approval |= decision_json(records, a.decision_id, LOG)
    elif not answer.recorded:
        approval["unavailable"] = "not recorded with deliveries scheduled before lineage was"
    out["approval"] = approval
    egress: dict[str, Any] = {"decision_id": d.decision_id}
    egress |= decision_json(records, d.decision_id, LOG)
    result = egress.get("result") if isinstance(egress.get("result"), dict) else {}
    out["egress"] = egress
    out["consent"] = {
        "used": [
            {"category": c.category, "granted": c.granted, "name": c.name, "event_id": c.event_id, "at": c.at}
            for c in answer.consent
        ]
        if answer.recorded
        else None,
        "states": (result or {}).get("consent"),
        "decision_id": d.decision_id,
        "refused": (result or {}).get("refused"),
        "remove": (result or {}).get("remove"),
    }
    fields = [{"trait": f.trait, "name": f.name, "sent": True} for f in answer.sent]
    for name in d.withheld:
        reason = withheld_reason(name, result or {}) if result else egress.get("unavailable", "")
        rule = f"{EGRESS}@{egress.get('revision', '')[:12]}" if result else ""
        fields.append({"trait": name, "sent": False, "reason": reason, "rule": rule})
    out["fields"] = fields
    out["constants"] = list(answer.constants)
    return out
