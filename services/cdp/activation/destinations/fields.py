"""Reading a destination's configuration: each value checked, and a bad one refused naming
`config.<field>` and the rule, before anything connects anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cdp.platform.errors import InvalidArgument

SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def invalid(name: str, rule: str) -> InvalidArgument:
    return InvalidArgument(f"config.{name}", rule)


def only(config: Mapping[str, Any], known: Iterable[str], kind: str) -> None:
    """Unknown fields are refused: a misspelt option would otherwise be silently ignored."""
    allowed = set(known)
    for name in sorted(config):
        if name not in allowed:
            raise invalid(name, f"is not a field of a {kind} destination (fields: {', '.join(sorted(allowed))})")


def text(config: Mapping[str, Any], name: str, default: str | None = None, *, max_len: int = 2048) -> str:
    value = config.get(name, default)
    if value is None:
        raise invalid(name, "is required")
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters")
    return value


def required_text(config: Mapping[str, Any], name: str, *, max_len: int = 2048) -> str:
    value = text(config, name, None, max_len=max_len)
    if not value.strip():
        raise invalid(name, "is required")
    return value


def number(config: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, "must be a number")
    if not low <= value <= high:
        raise invalid(name, f"must be between {low:g} and {high:g}")
    return float(value)


def integer(config: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "must be a whole number")
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}")
    return value


def flag(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name, default)
    if not isinstance(value, bool):
        raise invalid(name, "must be true or false")
    return value


def choice(config: Mapping[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = text(config, name, default)
    if value not in options:
        raise invalid(name, f"must be one of {', '.join(options)}")
    return value


def sql_name(config: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = text(config, name, default, max_len=63)
    if not SQL_NAME.match(value):
        raise invalid(name, "must be a lower-case SQL name: a letter or _, then letters, digits or _ (at most 63)")
    return value


def server_url(config: Mapping[str, Any], name: str, schemes: tuple[str, ...], default: str | None = None) -> str:
    """A broker's URL: one of the schemes, a host, and no credentials (they go in secret fields,
    so that the URL can be shown and logged)."""
    value = text(config, name, default)
    try:
        parsed = urlsplit(value)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise invalid(name, f"is not a URL ({error})") from None
    if parsed.scheme not in schemes or not parsed.hostname:
        raise invalid(name, f"must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
    if parsed.username is not None or parsed.password is not None:
        raise invalid(name, "must not hold credentials: put them in the username and password fields")
    return value
