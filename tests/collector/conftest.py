"""A running platform with the HTTP tracking API, shared by the collector's integration tests."""

from __future__ import annotations

import pytest

from support.platform_fixture import Client, free_ports, log_tails, new_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    platform = new_platform(tmp_path_factory.mktemp("collector-platform"))
    platform.http_port = free_ports(1)[0]
    try:
        platform.start_all(timeout=60)
    except (RuntimeError, TimeoutError) as error:
        platform.stop()
        raise RuntimeError(f"{error}\n{log_tails(platform)}") from None
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def http_url(platform):
    return f"http://127.0.0.1:{platform.http_port}"
