"""`cdp token`: bearer tokens for people and tools."""

from __future__ import annotations

import time

import click

from cdp.cli.client import credentials_dir
from cdp.platform.security import credentials, mint_token
from cdp.platform.tokens import (
    MAX_TTL_ENV,
    SKEW_S,
    VERSION,
    InvalidToken,
    load_public_key,
    max_ttl_s_from_env,
    revoke,
    unverified_claims,
)


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
@click.option(
    "--ttl", default=3600, show_default=True, help=f"Seconds until it expires (at most {MAX_TTL_ENV}, default 3600)."
)
def issue(subject: str, roles: tuple[str, ...], ttl: int) -> None:
    """Print a token signed with this install's key (use it as CDP_TOKEN or a Bearer header)."""
    try:
        click.echo(mint_token(credentials_dir(), subject, roles, ttl_s=ttl))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@token.command("revoke")
@click.argument("token_or_id")
def revoke_(token_or_id: str) -> None:
    """Refuse a token from now on, everywhere: give the token itself or its id (jti).

    Every service honours a revocation within a second (they read <credentials>/tokens/revoked).
    """
    creds = credentials(credentials_dir())
    if token_or_id.startswith(f"{VERSION}.") and token_or_id.count(".") == 2:
        try:
            claims = unverified_claims(token_or_id, load_public_key(creds.public_key))
        except InvalidToken as error:
            raise click.ClickException(f"not a token of this platform: {error.reason}") from None
        token_id, expires_at = claims.token_id, claims.expires_at
    else:
        # Only the id: a token with it expires at the latest a maximum lifetime from now.
        token_id, expires_at = token_or_id.strip(), time.time() + max_ttl_s_from_env() + SKEW_S
    if not token_id:
        raise click.ClickException("no token id given")
    revoke(creds.revoked_file, token_id, expires_at)
    click.echo(f"revoked token {token_id}")
