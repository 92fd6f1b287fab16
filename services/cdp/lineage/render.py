"""Lineage as a person reads it: one hop a line, ids in full so they can be followed."""

from __future__ import annotations

from typing import Any


def _identifier(i: dict[str, str]) -> str:
    return f"{i['type']}={i['value']}"


def _decision(d: dict[str, Any]) -> str:
    if "unavailable" in d:
        return f"{d['kind']} decision {d['decision_id'] or '-'}: {d['unavailable']}"
    result = d["result"]
    if d["kind"] == "collect" and isinstance(result, dict):
        said = "allowed" if result.get("allow") else "refused: " + "; ".join(result.get("reasons") or [])
        if result.get("drop"):
            said += f", dropped {', '.join(result['drop'])}"
    elif d["kind"] == "pii" and isinstance(result, dict):
        said = "personal: " + (", ".join(result.get("personal") or []) or "none")
    else:
        said = str(result)
    return f"{d['kind']} decision {d['decision_id']}: {said} (revision {d['revision'][:12]})"


def trait_text(lineage: dict[str, Any]) -> list[str]:
    lines = [f"trait {lineage['trait']} of person {lineage['person_id']}"]
    current = lineage["current"]
    if current is None:
        lines.append("  the profile holds no such trait now")
    else:
        shown = "(masked)" if current["masked"] else "(erased)" if current["erased"] else current["value"]
        lines.append(f"  now: {shown} from event {current['event_id']} at {current['updated_at']}")
    computed = lineage.get("computed")
    if computed:
        lines.append(
            f"  computed: {computed['name']} version {computed['version']} by {computed['created_by']}"
            f" (decision {computed['decision_id']}): {computed['definition']}"
        )
    if not lineage["settings"] and not computed:
        lines.append("  no call in the person's timeline set it")
    for s in lineage["settings"]:
        mark = "current" if s["current"] else "overwritten"
        value = "(masked)" if s["masked"] else "(erased)" if s["erased"] else s["value"]
        lines.append(f"  [{mark}] event {s['event_id']} ({s['type']}) at {s['timestamp']}: {s['path']} = {value}")
        source = s["source"]
        side = f", {source['side']}-side" if "side" in source else ""
        lines.append(f"    source {source['id']}{side}; message id {s.get('message_id', '-')}")
        if "collector" in s:
            lines.append(f"    collector: {s['collector']['unavailable']}")
        else:
            plan = s["plan"]
            lines.append(
                f"    tracking plan {plan['name']} version {plan['version']}" if plan else "    no tracking plan"
            )
            lines += [f"    {_decision(d)}" for d in s["decisions"]]
        identity = s["identity"]
        lines.append(f"    came under {_identifier(s['identifier'])}")
        if "unavailable" in identity:
            lines.append(f"    identity: {identity['unavailable']}")
        elif not identity["links"]:
            lines.append("    it is the person's first identifier: no link needed")
        else:
            lines.append(f"    linked to the person's first identifier {_identifier(identity['anchor'])} by:")
            for e in identity["links"]:
                lines.append(
                    f"      evidence {e['edge_id']}: {_identifier(e['a'])} ~ {_identifier(e['b'])}, "
                    f"{e['rule']}@{e['rule_version'][:12]}, event {e['event_id'] or '-'}, decision {e['decision_id']}"
                )
    return lines


def delivery_text(lineage: dict[str, Any]) -> list[str]:
    d, dest, sync, audience = lineage["delivery"], lineage["destination"], lineage["sync"], lineage["audience"]
    lines = [
        f"delivery {d['delivery_id']}: {d['action']} of person {d['person_id']}, {d['status']}"
        f" after {d['attempts']} attempt(s), scheduled {d['scheduled_at']}",
        f"  destination {dest['destination_id']} {dest['name']} ({dest['type']}) version {dest['version']}, "
        f"purposes {', '.join(dest['purposes'])}",
        f"  sync {sync['sync_id']} version {sync['version'] or 'not recorded'}"
        f" (now {sync['version_now']}, {sync['mode']})",
        f"  audience {audience['audience_id']} version {audience['version'] or 'not recorded'}",
    ]
    cause = lineage["cause"]
    line = f"  cause: {cause['kind']}" + (f" ({cause['cause']})" if cause["cause"] else "")
    membership = cause.get("membership")
    if membership:
        line += (
            f": {'entered' if membership['entered'] else 'exited'} at {membership['at']}"
            f" (audience version {membership['audience_version']}, by {membership['cause']}"
            f"{', event ' + membership['cause_event_id'] if membership['cause_event_id'] else ''};"
            f" segment {membership['ref']})"
        )
    lines.append(line)
    if cause["removed_for_consent"]:
        lines.append("  the person was taken out of the destination: egress refused them")
    approval = lineage["approval"]
    if "status" in approval:
        how = "on request of" if approval["action"] == "request" else "by"
        four_eyes = "" if approval["requires_approval"] else " (it sends no personal data: no second person needed)"
        lines.append(
            f"  approval: {approval['status']} {how} {approval['by']} at {approval['at']},"
            f" decision {approval['decision_id']}{four_eyes}"
        )
    else:
        lines.append(f"  approval: {approval.get('unavailable', 'none recorded')}")
    egress = lineage["egress"]
    if "unavailable" in egress:
        lines.append(f"  egress decision {egress['decision_id']}: {egress['unavailable']}")
    else:
        lines.append(f"  egress decision {egress['decision_id']} (revision {egress['revision'][:12]})")
    consent = lineage["consent"]
    if consent["used"] is None:
        lines.append("  consent used: not recorded with deliveries scheduled before lineage was")
    else:
        used = [
            f"{c['category']} {'granted' if c['granted'] else 'denied'} (event {c['event_id']})"
            for c in consent["used"]
        ]
        lines.append(f"  consent used: {', '.join(used) or 'none stated'}")
    if consent["states"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(consent["states"].items()))
        lines.append(f"  consent decided: {states} (decision {consent['decision_id']})")
    for reason in consent["refused"] or []:
        lines.append(f"  refused: {reason}")
    for f in lineage["fields"]:
        if f["sent"]:
            renamed = f" as {f['name']}" if f["name"] != f["trait"] else ""
            lines.append(f"  sent     {f['trait']}{renamed}")
        else:
            lines.append(f"  withheld {f['trait']}: {f['reason']} ({f['rule']})")
    if lineage["constants"]:
        lines.append(f"  constants: {', '.join(lineage['constants'])}")
    return lines
