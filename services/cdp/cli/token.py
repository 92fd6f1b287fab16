"""`cdp token`: bearer tokens for people and tools."""

from __future__ import annotations

import click

from cdp.cli.client import credentials_dir
from cdp.platform.security import mint_token


@click.group()
def token() -> None:
    """Signed bearer tokens (Ed25519) carrying a subject and roles."""


@token.command("issue")
@click.option("--subject", required=True, help="Who the token speaks for.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="A role (repeatable): admin, marketer, analyst, privacy_officer, ingest.",
)
@click.option("--ttl", default=3600, show_default=True, help="Seconds until it expires.")
def issue(subject: str, roles: tuple[str, ...], ttl: int) -> None:
    """Print a token signed with this install's key (use it as CDP_TOKEN or a Bearer header)."""
    click.echo(mint_token(credentials_dir(), subject, roles, ttl_s=ttl))
