"""The replay report as one self-contained HTML page, with a chart of decisions and flips over time."""

from __future__ import annotations

import json
from html import escape

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


def render(report: Report) -> str:
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
<h2>Decisions and flips per hour</h2>{chart(data["timeline"])}
<p><span style="color:#9ab">■</span> decisions <span style="color:#d43">■</span> decisions that would change</p>
<h2>Examples</h2>{examples or "<p>None changed.</p>"}
{f"<h2>Errors</h2><ul>{errors}</ul>" if errors else ""}
</body></html>
"""
