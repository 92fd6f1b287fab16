"""The registry: every kind, its secret fields, checking and opening."""

from __future__ import annotations

import asyncio

import pytest

from cdp.activation.destinations.registry import KINDS, SECRET_FIELDS, check_config, open_destination, split_secrets
from cdp.activation.destinations.webhook import new_webhook_secret
from cdp.platform.errors import InvalidArgument


def configs(tmp_path) -> dict[str, dict]:
    return {
        "webhook": {"url": "https://hooks.example.com/cdp", "secret": new_webhook_secret()},
        "postgres": {"dsn": "postgresql://app:pw@db.example.com/cdp", "table": "members"},
        "rabbitmq": {"url": "amqps://mq.example.com/", "username": "cdp", "password": "pw", "routing_key": "members"},
        "nats": {"url": "tls://nats.example.com:4222", "token": "t", "stream": "CDP", "subject": "cdp.members"},
        "redis": {"url": "rediss://cache.example.com:6380/0", "password": "pw", "stream": "cdp:members"},
        "file": {"directory": str(tmp_path)},
    }


def test_every_kind_checks_and_opens_without_connecting(tmp_path):
    assert KINDS == ("webhook", "postgres", "rabbitmq", "nats", "redis", "file")
    for kind, config in configs(tmp_path).items():
        check_config(kind, config)
        shown, secret = split_secrets(kind, config)
        assert set(secret) <= set(SECRET_FIELDS[kind]) and not set(shown) & set(SECRET_FIELDS[kind])
        destination = open_destination(kind, shown, secret)
        assert destination.kind == kind
        asyncio.run(destination.close())


def test_credentials_are_secret_fields():
    assert SECRET_FIELDS["webhook"] == ("secret", "previous_secret")
    assert SECRET_FIELDS["postgres"] == ("dsn",)
    assert "password" in SECRET_FIELDS["rabbitmq"] and "token" in SECRET_FIELDS["nats"]
    assert SECRET_FIELDS["file"] == ()


def test_an_unknown_kind_or_a_config_that_is_not_an_object_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match=r"^kind: must be one of webhook, postgres"):
        check_config("smtp", {})
    with pytest.raises(InvalidArgument, match=r"^config: must be an object"):
        check_config("webhook", ["url"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"^config.secret: is required"):
        open_destination("webhook", {"url": "https://hooks.example.com/"}, {})
