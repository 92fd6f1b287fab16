"""Fixtures of the destination tests: messages, and the real servers on this machine (a test skips,
saying which server, only when that server is not listening)."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime

import pytest

from cdp.activation.destinations.port import Message

SERVERS = {
    "postgres": ("127.0.0.1", 5432),
    "rabbitmq": ("127.0.0.1", 5672),
    "nats": ("127.0.0.1", 4222),
    "redis": ("127.0.0.1", 6379),
}


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(server: str) -> None:
    host, port = SERVERS[server]
    if not listening(host, port):
        pytest.skip(f"{server} is not listening on {host}:{port} (.ci/run starts it)")


def message(
    person: str = "p1",
    action: str = "upsert",
    record: dict | None = None,
    delivery_id: str | None = None,
    timestamp: str | None = None,
) -> Message:
    record = {"plan": "pro", "seats": 3} if record is None else record
    delivery_id = delivery_id or str(uuid.uuid4())
    body = json.dumps({"delivery_id": delivery_id, "type": f"audience.{action}", "traits": record}).encode()
    return Message(delivery_id, person, action, record, body, timestamp or datetime.now(UTC).isoformat())


@pytest.fixture
def unique() -> str:
    """A name no other test or run uses."""
    return f"test_dest_{uuid.uuid4().hex[:10]}"


@pytest.fixture(name="message")
def message_factory():
    """message(person=, action=, record=, delivery_id=, timestamp=) -> Message."""
    return message
