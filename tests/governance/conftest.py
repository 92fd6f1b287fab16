"""The platform most governance tests run against: its own storage, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from support.governance import platform_on
from support.platform_fixture import Client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(request, tmp_path):
    """A running platform with its own data directory (on PostgreSQL, a fresh schema prefix)."""
    with platform_on(request.param, tmp_path / "data") as running:
        yield running


@pytest.fixture
def client(platform):
    with Client(platform) as c:
        yield c
