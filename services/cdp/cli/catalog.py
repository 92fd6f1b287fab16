"""`cdp catalog`: every event, property and trait each source sent, as text, JSON or one HTML page."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import click
from google.protobuf import json_format

from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.cli.client import call, connect
from cdp.platform.clock import now_iso

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1rem;margin:1.5rem 0 .3rem}
table{border-collapse:collapse;margin:.3rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right}.muted{color:#777}
.tag{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-size:.8rem}
.ok{background:#e3f4e1}.no{background:#fde2e1}.pii{background:#fff1c2}.sensitive{background:#f9c7c7}
"""


def kind_of(event: qpb.CatalogEvent) -> str:
    if event.event_type == "track":
        return event.event
    return f"{event.event} ({event.event_type})" if event.event else f"({event.event_type})"


def policy_of(field: qpb.CatalogField) -> str:
    if field.sensitive:
        return f"sensitive ({field.classification})"
    if field.personal:
        return f"personal ({field.classification or 'by value'})"
    return ""


@click.command()
@click.option("--source", "source_name", default="", help="One source (default: all).")
@click.option("--json", "as_json", is_flag=True, help="The catalog as JSON.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the catalog as one self-contained HTML page to this file.",
)
def catalog(source_name: str, as_json: bool, html_file: Path | None) -> None:
    """What each source sends: events, their properties and traits, with volume, first and last
    seen, the JSON types seen, whether the tracking plan documents them and whether policy classes
    them personal or sensitive."""
    events = call(connect().quality.get_catalog, source_name)
    if html_file is not None:
        html_file.write_text(page(events), encoding="utf-8")
        click.echo(f"{html_file}: {len(events)} events")
        return
    if as_json:
        click.echo(json.dumps([json_format.MessageToDict(e) for e in events], indent=2))
        return
    for e in events:
        documented = "documented" if e.documented else "not in plan" if e.plan_name else "no plan"
        click.echo(f"{e.source_name}  {kind_of(e)}  {e.volume} calls  {e.first_seen} .. {e.last_seen}  {documented}")
        for f in e.fields:
            flags = ", ".join(x for x in ("documented" if f.documented else "", policy_of(f)) if x)
            click.echo(f"    {f.scope}.{f.name}  {'|'.join(f.types)}  {f.volume}" + (f"  {flags}" if flags else ""))
    click.echo(f"{len(events)} events")


def page(events: list[qpb.CatalogEvent]) -> str:
    """The catalog as one HTML page, with no script and nothing fetched; every value escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Event catalog</title><style>{STYLE}</style></head><body>",
        f'<h1>Event catalog</h1><p class="muted">{escape(now_iso())}: {len(events)} events</p>',
    ]
    source = None
    for e in events:
        if e.source_name != source:
            source = e.source_name
            plan = f"tracking plan {e.plan_name} v{e.plan_version}" if e.plan_name else "no tracking plan"
            parts.append(f'<h2>{escape(source or e.source_id)} <span class="muted">({escape(plan)})</span></h2>')
        tag = '<span class="tag ok">documented</span>' if e.documented else '<span class="tag no">not documented</span>'
        parts.append(f"<h3>{escape(kind_of(e))} {tag}</h3>")
        if e.description:
            parts.append(f"<p>{escape(e.description)}</p>")
        parts.append(f'<p class="muted">{e.volume} calls, first {escape(e.first_seen)}, last {escape(e.last_seen)}</p>')
        if not e.fields:
            continue
        parts.append(
            "<table><tr><th>Field</th><th>Types</th><th>Calls</th><th>First seen</th><th>Last seen</th>"
            "<th>Plan</th><th>Description</th><th>Policy</th></tr>"
        )
        for f in e.fields:
            documented = "yes" if f.documented else "no"
            policy = policy_of(f)
            css = "sensitive" if f.sensitive else "pii" if f.personal else ""
            shown = f'<span class="tag {css}">{escape(policy)}</span>' if policy else ""
            parts.append(
                f"<tr><td>{escape(f.scope)}.{escape(f.name)}</td><td>{escape(', '.join(f.types))}</td>"
                f'<td class="num">{f.volume}</td><td>{escape(f.first_seen)}</td><td>{escape(f.last_seen)}</td>'
                f"<td>{documented}</td><td>{escape(f.description)}</td><td>{shown}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
