"""Who read whose personal data, and when: the access records of every service, as rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from typing import Any

from cdp.api.policy.v1 import decision_pb2
from cdp.audit.records import Link
from cdp.platform.clock import format_iso, parse_iso

RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
COLUMNS = ("at", "caller", "roles", "person_id", "service", "operation", "fields", "purpose", "decision_id")


def since_time(text: str, now: datetime) -> str:
    """The time --since names, as the platform writes times: ISO 8601, or a span back from now
    (30s, 15m, 1h, 2d, 1w, or several: 1h30m). Raises ValueError when it is neither."""
    text = text.strip()
    if not text:
        return ""
    spans = RELATIVE.findall(text)
    if spans and RELATIVE.sub("", text).strip() == "":
        back = sum((timedelta(**{UNITS[unit]: int(n)}) for n, unit in spans), timedelta())
        return format_iso(now - back)
    return format_iso(parse_iso(text))


def row(link: Link) -> dict[str, Any]:
    r = link.record
    assert isinstance(r, decision_pb2.AccessRecorded)
    return {
        "at": r.at,
        "caller": r.caller,
        "caller_kind": r.caller_kind,
        "roles": list(r.roles),
        "person_id": r.person_id,
        "service": r.service or link.service,
        "operation": r.operation,
        "fields": list(r.fields),
        "purpose": r.purpose,
        "decision_id": r.decision_id,
        "reference": r.reference,
        "access_id": r.access_id,
    }


def access_rows(links: Iterable[Link], person: str = "", caller: str = "", since: str = "") -> list[dict[str, Any]]:
    """One row per read, oldest first; the filters given all hold (since: an RFC 3339 time)."""
    rows = [
        row(link)
        for link in links
        if isinstance(link.record, decision_pb2.AccessRecorded)
        and (not person or link.record.person_id == person)
        and (not caller or link.record.caller == caller)
        and (not since or parse_iso(link.record.at) >= parse_iso(since))
    ]
    return sorted(rows, key=lambda r: (parse_iso(r["at"]), r["service"]))


def text_lines(rows: list[dict[str, Any]]) -> list[str]:
    head = f"{'time':<24} {'caller':<28} {'roles':<16} {'person':<36} {'service':<10} {'operation':<40} fields"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['at']:<24} {r['caller']:<28} {','.join(r['roles']) or '-':<16} {r['person_id'] or '-':<36} "
            f"{r['service']:<10} {r['operation']:<40} {','.join(r['fields'])}  "
            f"purpose={r['purpose']} decision={r['decision_id']}"
        )
    return lines


def html_section(rows: list[dict[str, Any]]) -> str:
    """The access log as a table of the HTML report."""
    if not rows:
        return "<p>No personal data was read in clear.</p>"
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(', '.join(r[c]) if isinstance(r[c], list) else str(r[c]))}</td>"
            if c != "decision_id"
            else f"<td><code>{escape(r[c])}</code></td>"
            for c in COLUMNS
        )
        + "</tr>"
        for r in rows
    )
    header = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    return f'<p>{len(rows)} read(s) in clear.</p><table class="access"><tr>{header}</tr>{cells}</table>'
