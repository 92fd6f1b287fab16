"""`cdp webhook listen`: a loopback receiver that prints what destinations get."""

from __future__ import annotations

import json

import click
from aiohttp import web


@click.group()
def webhook() -> None:
    """A local webhook receiver, for trying destinations out."""


@webhook.command("listen")
@click.option("--port", default=9000, show_default=True)
def listen(port: int) -> None:
    """Print every JSON body POSTed to http://127.0.0.1:PORT/ ."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        click.echo(json.dumps(body, indent=2, sort_keys=True), color=False)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    click.echo(f"listening on http://127.0.0.1:{port}/")
    web.run_app(app, host="127.0.0.1", port=port, print=None)
