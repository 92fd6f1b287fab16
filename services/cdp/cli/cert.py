"""`cdp cert issue`: a client certificate from the local CA for a new internal caller."""

from __future__ import annotations

import re
from pathlib import Path

import click

from cdp.cli.client import credentials_dir
from cdp.platform.config import SERVICES
from cdp.platform.tls import CA_NAME, TlsFiles, issue_certificate

RESERVED = (*SERVICES, "cli")  # the platform's own certificates
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


@click.group()
def cert() -> None:
    """Certificates from this install's CA (mutual TLS)."""


@cert.command("issue")
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write NAME.crt, NAME.key and ca.crt (default: ./NAME).",
)
@click.option("--force", is_flag=True, help="Issue a certificate with the name of one of the platform's services.")
def issue(name: str, out_dir: Path | None, force: bool) -> None:
    """Issue a certificate for NAME: a caller presenting it acts as the service NAME (its CN).

    The output directory alone is a credentials directory for cdp.client:
    Connection.from_credentials(DIR, identity=NAME).
    """
    if not NAME.fullmatch(name):
        raise click.BadParameter("lower-case letters, digits, '.', '_' and '-' (at most 63)", param_hint="NAME")
    if name == CA_NAME:
        raise click.BadParameter(f"{name!r} is the CA's own file name", param_hint="NAME")
    if name in RESERVED and not force:
        raise click.ClickException(
            f"{name!r} is one of the platform's own identities: a caller with it acts as that service; "
            "pass --force if that is what you mean"
        )
    source = TlsFiles(credentials_dir() / "tls")
    out_dir = out_dir or Path(name)
    try:
        cert_path, key_path, ca_path = issue_certificate(source, name, out_dir)
    except FileNotFoundError as error:
        raise click.ClickException(f"{error} (run `cdp up` first, or set CDP_CREDENTIALS_DIR)") from None
    click.echo(f"issued {name}: certificate {cert_path}, key {key_path}, CA {ca_path}")
    click.echo(f"connect with cdp.client.Connection.from_credentials({str(out_dir)!r}, identity={name!r})")
