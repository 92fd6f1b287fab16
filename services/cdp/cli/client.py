"""What CLI commands share: the connection to the platform, the caller, errors as messages.

The CLI connects with the `cli` certificate of this install's credentials (CDP_CREDENTIALS_DIR,
else the data directory) and acts as a person: the token in CDP_TOKEN, else one minted with the
local signing key for --subject and --role (default: an admin named $CDP_SUBJECT or $USER).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from cdp.client import CdpError, Connection, CredentialsError

DEFAULT_ROLES = ("admin",)
TOKEN_TTL_S = 300


def data_dir() -> Path:
    return Path(os.environ.get("CDP_DATA_DIR", ".cdp"))


def credentials_dir() -> Path:
    """Where the `cli` certificate and the token signing key are (default: the data dir)."""
    return Path(os.environ.get("CDP_CREDENTIALS_DIR") or data_dir())


def state_dir() -> Path:
    """Where the services keep their decision-log witnesses (default: the data dir)."""
    return Path(os.environ.get("CDP_STATE_DIR") or data_dir())


def connect(subject: str | None = None, roles: tuple[str, ...] = DEFAULT_ROLES) -> Connection:
    """A connection acting as CDP_TOKEN's user, else as subject (default: $CDP_SUBJECT or $USER) with roles."""
    directory = credentials_dir()
    if not (directory / "tls").exists():
        raise click.ClickException(
            f"no credentials in {directory}: run `cdp up` first, or set CDP_DATA_DIR (or CDP_CREDENTIALS_DIR)"
        )
    token = os.environ.get("CDP_TOKEN", "") or None
    try:
        return Connection.from_credentials(
            directory, "cli", token, subject=subject or default_subject(), roles=roles, ttl_s=TOKEN_TTL_S
        )
    except CredentialsError as error:
        raise click.ClickException(str(error)) from None


def default_write_key() -> str:
    path = data_dir() / "write_key"
    return path.read_text().strip() if path.exists() else ""


def default_subject() -> str:
    return os.environ.get("CDP_SUBJECT", os.environ.get("USER", "operator"))


caller_options = [
    click.option(
        "--subject", default=default_subject, show_default="$CDP_SUBJECT or $USER", help="Who the call is made as."
    ),
    click.option(
        "--role",
        "roles",
        multiple=True,
        default=DEFAULT_ROLES,
        show_default=True,
        help="A role of the caller (repeatable).",
    ),
]


def with_caller(function):
    for option in reversed(caller_options):
        function = option(function)
    return function


def call(method, *args, **kwargs):
    """Make a call; a refusal becomes a clean error that says why."""
    try:
        return method(*args, **kwargs)
    except CdpError as error:
        raise said(error) from None


def said(error: CdpError) -> click.ClickException:
    """A failed call as the CLI says it: the status and the service's message."""
    code, details = getattr(error, "code", type(error).__name__), getattr(error, "details", str(error))
    return click.ClickException(f"{code}: {details}")
