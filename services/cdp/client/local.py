"""Connecting to a platform this process started (cdp.platform.launcher): `cdp up`, the
benchmarks, the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cdp.client.connection import AsyncConnection, Connection
from cdp.platform.config import SERVICES
from cdp.platform.files import write_private
from cdp.platform.launcher import Platform


def connect(
    platform: Platform,
    subject: str | None = "operator",
    roles: Iterable[str] = ("admin",),
    *,
    token: str | None = None,
    ttl_s: float = 3600,
    identity: str = "cli",
    timeout: float = 30.0,
) -> Connection:
    """Blocking clients of the platform's services, with the `identity` certificate of its data
    directory, acting as token's user, or as subject with roles (a token minted with its signing
    key); subject=None: as the certificate's service."""
    return Connection.from_credentials(
        platform.data_dir,
        identity,
        token,
        subject=subject,
        roles=roles,
        ttl_s=ttl_s,
        addresses=addresses(platform),
        timeout=timeout,
    )


def connect_async(
    platform: Platform,
    subject: str | None = "operator",
    roles: Iterable[str] = ("admin",),
    *,
    token: str | None = None,
    ttl_s: float = 3600,
    identity: str = "cli",
    timeout: float = 30.0,
) -> AsyncConnection:
    return AsyncConnection.from_credentials(
        platform.data_dir,
        identity,
        token,
        subject=subject,
        roles=roles,
        ttl_s=ttl_s,
        addresses=addresses(platform),
        timeout=timeout,
    )


def addresses(platform: Platform) -> dict[str, str]:
    return {s: platform.address(s) for s in SERVICES}


def ensure_default_source(platform: Platform, data_dir: Path | None = None) -> str:
    """A first run creates a server-side source named 'default' for the quickstart; its write key
    is saved in <data_dir>/write_key (0600) and returned. The collector keeps only a keyed hash of
    a write key, so a later run reads the key from that file."""
    data_dir = Path(data_dir or platform.data_dir)
    path = data_dir / "write_key"
    with connect(platform, "cdp-up", ("admin",), ttl_s=60) as cdp:
        source = next((s for s in cdp.collector.list_sources(timeout=10) if s.name == "default"), None)
        if source is None:
            source = cdp.collector.create_source("default", server_side=True, timeout=10)
            write_private(path, source.write_key + "\n")
            return source.write_key
    if not path.exists():
        raise RuntimeError(
            f"source 'default' exists but {path} is gone; its write key is shown only when a source is "
            "created: create another source (cdp source create) and send with its key"
        )
    return path.read_text().strip()
