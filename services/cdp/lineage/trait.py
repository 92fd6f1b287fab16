"""`cdp lineage trait`: the chain behind a trait's value on a profile.

profile answers which calls set the trait (GetTraitLineage: event ids, the key each came under,
values as the caller may see them); the collector's log says where each call came from (source,
client- or server-side, message id, tracking plan version, collect and PII decision ids); the
collector's decision log holds those decisions; identity's evidence says which links brought each
call's identifier to the person.
"""

from __future__ import annotations

from typing import Any

from cdp.lineage.links import edge_json, path
from cdp.lineage.reader import Reader, Unavailable, attempt, decision_json, parsed


def trait_lineage(reader: Reader, trait: str, person_id: str = "", identifier: Any = None, purpose: str = "") -> dict:
    """The lineage of one trait of one person, as JSON-ready data. Raises the profile's refusal
    (nothing else can be told without it); any later hop that cannot be read is said so."""
    answer = reader.trait_lineage(trait, person_id, identifier, purpose)
    out: dict[str, Any] = {"person_id": answer.person_id, "trait": answer.trait, "current": None}
    if answer.HasField("current"):
        c = answer.current
        out["current"] = {
            "value": c.value,
            "masked": c.masked,
            "erased": c.erased,
            "event_id": c.event_id,
            "source_id": c.source_id,
            "updated_at": c.updated_at,
            "computed": c.computed,
        }
    if answer.HasField("computed"):
        t = answer.computed
        out["computed"] = {
            "name": t.name,
            "version": t.version,
            "definition": parsed(t.definition_json),
            "created_by": t.created_by,
            "created_at": t.created_at,
            "decision_id": t.decision_id,
        }
    event_ids = [s.event_id for s in answer.settings]
    accepted = attempt(lambda: reader.accepted(event_ids))
    wanted = (
        [i for a in accepted.values() for i in (a.collect_decision_id, a.pii_decision_id)]
        if not isinstance(accepted, Unavailable)
        else []
    )
    records = attempt(lambda: reader.decisions("collector", wanted))
    person = attempt(lambda: reader.person(answer.person_id))
    evidence = attempt(lambda: reader.evidence(answer.person_id))
    anchor = None
    if not isinstance(person, Unavailable) and person.identifiers:
        anchor = (person.identifiers[0].type, person.identifiers[0].value)
    settings = []
    for s in answer.settings:
        setting: dict[str, Any] = {
            "current": s.current,
            "event_id": s.event_id,
            "type": s.type,
            "timestamp": s.timestamp,
            "received_at": s.received_at,
            "value": s.value,
            "masked": s.masked,
            "erased": s.erased,
            "path": s.path,
            "identifier": {"type": s.key_type, "value": s.key_value},
            "source": {"id": s.source_id},
        }
        if isinstance(accepted, Unavailable):
            setting["collector"] = {"unavailable": accepted.reason}
        elif s.event_id not in accepted:
            setting["collector"] = {"unavailable": "not found in the collector's log"}
        else:
            a = accepted[s.event_id]
            setting["message_id"] = a.event.message_id
            setting["source"] |= {"side": "server" if a.server_side else "client"}
            setting["plan"] = {"name": a.plan_name, "version": a.plan_version} if a.plan_name else None
            setting["dropped_properties"] = list(a.dropped_properties)
            setting["decisions"] = [
                {"kind": kind, "decision_id": decision_id}
                | decision_json(records, decision_id, "the collector's decision log")
                for kind, decision_id in (("collect", a.collect_decision_id), ("pii", a.pii_decision_id))
            ]
        setting["identity"] = _identity(person, evidence, anchor, (s.key_type, s.key_value))
        settings.append(setting)
    out["settings"] = settings
    return out


def _identity(person: Any, evidence: Any, anchor: tuple[str, str] | None, key: tuple[str, str]) -> dict[str, Any]:
    for hop in (person, evidence):
        if isinstance(hop, Unavailable):
            return {"unavailable": hop.reason}
    if anchor is None:
        return {"unavailable": "identity holds no identifier of this person"}
    links = path(evidence.path, key, anchor)
    out: dict[str, Any] = {"person_id": person.person_id, "anchor": {"type": anchor[0], "value": anchor[1]}}
    if links is None:
        out["unavailable"] = f"no admitted evidence joins {key[0]} to the person's first identifier now"
    else:
        out["links"] = [edge_json(e) for e in links]
    return out
