"""What CLI commands share: service addresses, caller metadata, errors as messages."""

from __future__ import annotations

import os
from pathlib import Path

import click
import grpc

from cdp.platform.caller import caller_metadata
from cdp.platform.config import DEFAULT_PORTS


def address(service: str) -> str:
    return os.environ.get(f"CDP_{service.upper()}_ADDR", f"127.0.0.1:{DEFAULT_PORTS[service]}")


def channel(service: str) -> grpc.Channel:
    return grpc.insecure_channel(address(service))


def data_dir() -> Path:
    return Path(os.environ.get("CDP_DATA_DIR", ".cdp"))


def default_write_key() -> str:
    path = data_dir() / "write_key"
    return path.read_text().strip() if path.exists() else ""


class Caller:
    """--subject/--role options: who the call is made as."""

    def __init__(self, subject: str, roles: tuple[str, ...]):
        self.metadata = caller_metadata(subject, roles)


caller_options = [
    click.option("--subject", default=lambda: os.environ.get("CDP_SUBJECT", os.environ.get("USER", "cli")),
                 show_default="$CDP_SUBJECT or $USER", help="Who the call is made as."),
    click.option("--role", "roles", multiple=True, default=("admin",), show_default=True,
                 help="A role of the caller (repeatable)."),
]


def with_caller(function):
    for option in reversed(caller_options):
        function = option(function)
    return function


def call(method, request, **kwargs):
    """Make a call; turn a refusal into a clean CLI error that says why."""
    try:
        return method(request, timeout=kwargs.pop("timeout", 30), **kwargs)
    except grpc.RpcError as error:
        raise click.ClickException(f"{error.code().name}: {error.details()}") from None
