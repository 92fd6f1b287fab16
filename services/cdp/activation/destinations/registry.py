"""The destination kinds: their names, which configuration fields are credentials, checking a
configuration, and opening a destination.

A configuration arrives whole (secret fields included); the application keeps SECRET_FIELDS[kind]
encrypted, never returns them, and hands them back apart as `secrets` to open_destination.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cdp.activation.destinations import file_export, nats_jetstream, postgres_table, rabbitmq, redis_stream, webhook
from cdp.activation.destinations.port import Destination
from cdp.platform.errors import InvalidArgument

_MODULES = {
    "webhook": webhook,
    "postgres": postgres_table,
    "rabbitmq": rabbitmq,
    "nats": nats_jetstream,
    "redis": redis_stream,
    "file": file_export,
}
_CLASSES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], bool], Destination]] = {
    "webhook": webhook.WebhookDestination,
    "postgres": postgres_table.PostgresTableDestination,
    "rabbitmq": rabbitmq.RabbitMqDestination,
    "nats": nats_jetstream.NatsJetStreamDestination,
    "redis": redis_stream.RedisStreamDestination,
    "file": file_export.FileExportDestination,
}
KINDS: tuple[str, ...] = tuple(_MODULES)
SECRET_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({k: m.SECRET_FIELDS for k, m in _MODULES.items()})


def _module(kind: str) -> Any:
    if kind not in _MODULES:
        raise InvalidArgument("kind", f"must be one of {', '.join(KINDS)}")
    return _MODULES[kind]


def check_config(kind: str, config: dict[str, Any]) -> None:
    """Refuse a bad configuration: InvalidArgument naming `config.<field>` and the rule."""
    if not isinstance(config, dict):
        raise InvalidArgument("config", "must be an object")
    _module(kind).check_config(config)


def split_secrets(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the fields that may be shown, the credentials to keep encrypted)."""
    secret = SECRET_FIELDS[_module(kind).KIND]
    return {k: v for k, v in config.items() if k not in secret}, {k: v for k, v in config.items() if k in secret}


def open_destination(kind: str, config: dict[str, Any], secrets: dict[str, Any], *, local: bool = False) -> Destination:
    """A destination of the kind, checked; it connects on its first send().

    Unless local, every connection first checks that the host still resolves to public addresses
    only (guard.refuse_local): check_address ran when the destination was made, DNS may have
    changed since. A refused connection is a failed Outcome.
    """
    _module(kind)
    return _CLASSES[kind](config, secrets, local)
