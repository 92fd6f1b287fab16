"""The replay report as one self-contained HTML page, with a chart of decisions and flips over time,
and the access log (who read whose personal data in clear, and when)."""

from __future__ import annotations

import json
from html import escape

from cdp.audit.access import html_section
from cdp.audit.replay import Report

WIDTH, HEIGHT, PAD = 760, 220, 30


def chart(timeline: list[dict]) -> str:
    """Bars of decisions per hour, with the flips of each hour drawn over them (inline SVG)."""
    if not timeline:
        return "<p>No decisions in range.</p>"
    top = max(t["decisions"] for t in timeline) or 1
    step = (WIDTH - 2 * PAD) / len(timeline)
    bars = []
    for i, t in enumerate(timeline):
        x = PAD + i * step
        for value, cls in ((t["decisions"], "decisions"), (t["flips"], "flips")):
            h = (HEIGHT - 2 * PAD) * value / top
            bars.append(
                f'<rect class="{cls}" x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{h:.1f}"><title>{escape(t["hour"])}: {value} {cls}</title></rect>'
            )
    first, last = escape(timeline[0]["hour"]), escape(timeline[-1]["hour"])
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="decisions and flips per hour">'
        f'<text x="{PAD}" y="{PAD - 10}">{top} decisions</text>{"".join(bars)}'
        f'<text x="{PAD}" y="{HEIGHT - 8}">{first}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{last}</text></svg>'
    )


def impact_section(found: dict) -> str:
    """Per destination: deliveries and persons relying on flipped decisions, those that would not have
    happened, traits withheld or released; per entrypoint: the events and subjects."""
    if not found or not (found.get("destinations") or found.get("events")):
        return "<p>No delivery or event relied on a decision that would flip.</p>"
    rows = []
    for d in found.get("destinations", []):
        gone = d["not_delivered"]
        changes = [f"not delivered: {gone['deliveries']} ({gone['persons']} persons)"] if gone["deliveries"] else []
        changes += [f"{t} withheld: {n['deliveries']} ({n['persons']} persons)" for t, n in d["withheld"].items()]
        changes += [f"{t} would leave: {n['deliveries']} ({n['persons']} persons)" for t, n in d["released"].items()]
        rows.append(
            f"<tr><td>{escape(d['name'] or d['destination_id'])}<br><small>{escape(d['destination_id'])}</small></td>"
            f"<td>{escape(d['purpose'])}</td><td>{d['decisions']}</td><td>{d['deliveries']}</td>"
            f"<td>{d['persons']}</td><td>{'<br>'.join(escape(c) for c in changes)}</td></tr>"
        )
    destinations = (
        "<table><tr><th>destination</th><th>purpose</th><th>decisions</th><th>deliveries</th><th>persons</th>"
        f"<th>what would change</th></tr>{''.join(rows)}</table>"
        if rows
        else ""
    )
    event_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{e['events']}</td><td>{e['subjects']}</td><td>{_by_flip(e['flips'])}</td></tr>"
        for name, e in found.get("events", {}).items()
    )
    events = (
        f"<table><tr><th>entrypoint</th><th>events</th><th>subjects</th><th>by flip</th></tr>{event_rows}</table>"
        if event_rows
        else ""
    )
    return destinations + events


def _by_flip(flips: dict) -> str:
    return "<br>".join(escape(f"{k}: {n['events']} events, {n['subjects']} subjects") for k, n in flips.items())


def diff_section(diffs: list[dict]) -> str:
    parts = []
    for diff in diffs:
        files = diff["files"]
        listed = "".join(
            f"<tr><td>{escape(f['file'])}</td><td>{escape(f['status'])}</td><td>+{f['added']}</td><td>-{f['removed']}</td></tr>"
            for f in files
        )
        parts.append(
            f"<p>Against revision <code>{escape(diff['in_force'][:12])}</code> (in force at "
            f"{escape(', '.join(diff['services']))}): {len(files)} file(s) differ.</p>"
            + (
                f"<table><tr><th>file</th><th>status</th><th>added</th><th>removed</th></tr>{listed}</table>"
                if files
                else ""
            )
            + "".join(
                f'<details><summary>{escape(f["file"])}</summary><pre class="diff">{escape(f["diff"])}</pre></details>'
                for f in files
            )
        )
    return "".join(parts) or "<p>No revision in force was recorded.</p>"


def access_page(rows: list[dict]) -> str:
    """The access log alone, as a page."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cdp access log</title>
<style>body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}</style></head><body>
<h1>Access log</h1>{html_section(rows)}
</body></html>
"""


def render(report: Report, access: list[dict] | None = None) -> str:
    """access: the access log's rows (cdp.audit.access), shown in their own section."""
    data = report.as_dict()
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{e['replayed']}</td><td>{e['changed']}</td>"
        f"<td>{e['allow_to_deny']}</td><td>{e['deny_to_allow']}</td></tr>"
        for name, e in data["entrypoints"].items()
    )
    examples = "".join(
        f"<details><summary>{escape(name)}: {escape(x['service'])} decision {escape(x['decision_id'][:12])} "
        f"at {escape(x['decided_at'])}</summary><pre>{escape(json.dumps(x, indent=2))}</pre></details>"
        for name, e in data["entrypoints"].items()
        for x in e["examples"]
    )
    errors = "".join(f"<li>{escape(e)}</li>" for e in data["errors"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cdp policy replay</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
rect.decisions {{ fill: #9ab; }} rect.flips {{ fill: #d43; }} svg {{ max-width: 100%; }}
pre {{ background: #f6f6f6; padding: 8px; }}
</style></head><body>
<h1>Policy replay</h1>
<p>{data["replayed"]} recorded decisions re-evaluated against <code>{escape(data["candidate"])}</code>;
{data["changed"]} would change.</p>
<table><tr><th>entrypoint</th><th>replayed</th><th>changed</th><th>allow → deny</th><th>deny → allow</th></tr>
{rows}</table>
<h2>Impact</h2>{impact_section(data["impact"])}
<h2>Policy diff</h2>{diff_section(data["policy_diff"])}
<h2>Decisions and flips per hour</h2>{chart(data["timeline"])}
<p><span style="color:#9ab">■</span> decisions <span style="color:#d43">■</span> decisions that would change</p>
<h2>Examples</h2>{examples or "<p>None changed.</p>"}
{f"<h2>Access log</h2>{html_section(access)}" if access is not None else ""}
{f"<h2>Errors</h2><ul>{errors}</ul>" if errors else ""}
</body></html>
"""
