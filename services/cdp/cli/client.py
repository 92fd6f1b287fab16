"""What CLI commands share: service addresses, credentials, errors as messages.

The CLI connects with this install's `cli` certificate and acts as a person: the token in
CDP_TOKEN (or --token), else one minted with the local signing key for --subject and --role.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import grpc

from cdp.platform.config import DEFAULT_PORTS
from cdp.platform.security import bearer, mint_token, tool_channel

DEFAULT_ROLES = ("admin",)


def address(service: str) -> str:
    return os.environ.get(f"CDP_{service.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[service]}")


def data_dir() -> Path:
    return Path(os.environ.get("CDP_DATA_DIR", ".cdp"))


def credentials_dir() -> Path:
    """Where the `cli` certificate and the token signing key are (default: the data dir)."""
    return Path(os.environ.get("CDP_CREDENTIALS_DIR") or data_dir())


def state_dir() -> Path:
    """Where the services keep their decision-log witnesses (default: the data dir)."""
    return Path(os.environ.get("CDP_STATE_DIR") or data_dir())


def channel(service: str) -> grpc.Channel:
    """A channel acting as the default caller (CDP_TOKEN, else an admin token for $USER)."""
    if not (credentials_dir() / "tls").exists():
        raise click.ClickException(
            f"no credentials in {credentials_dir()}: run `cdp up` first, or set CDP_DATA_DIR (or CDP_CREDENTIALS_DIR)"
        )
    return tool_channel(credentials_dir(), address(service), token=default_token())


def default_token() -> str:
    return os.environ.get("CDP_TOKEN", "") or mint_token(credentials_dir(), default_subject(), DEFAULT_ROLES, ttl_s=300)


def default_write_key() -> str:
    path = data_dir() / "write_key"
    return path.read_text().strip() if path.exists() else ""


def default_subject() -> str:
    return os.environ.get("CDP_SUBJECT", os.environ.get("USER", "operator"))


class Caller:
    """Who a call is made as: the given token, or one minted for subject and roles."""

    def __init__(self, subject: str, roles: tuple[str, ...]):
        token = os.environ.get("CDP_TOKEN", "")
        self.metadata = bearer(token or mint_token(credentials_dir(), subject, roles, ttl_s=300))


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


def call(method, request, **kwargs):
    """Make a call; a refusal becomes a clean error that says why."""
    try:
        return method(request, timeout=kwargs.pop("timeout", 30), **kwargs)
    except grpc.RpcError as error:
        raise click.ClickException(f"{error.code().name}: {error.details()}") from None
