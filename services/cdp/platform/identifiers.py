"""The identifiers a collected call carries, in clear: user and anonymous ids, the alias's previous
id, an email and a phone among its traits, and its context.externalIds.

Identity links them; the collector checks them against the suppressed. Personal values are stored
as tokens, at any depth (an email trait holding a list, an external id's id), so a reader passes
`reveal` to decrypt one token under its field name (None when the value was erased); the tokens
inside a value are found by the rule of cdp.platform.sealed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from cdp.api.common.v1 import event_pb2
from cdp.platform.sealed import ERASED, replace_tokens, tokens_in

Reveal = Callable[[str, str, Any], Any]  # (event type, field name, stored value) -> value in clear
_TYPE = re.compile(r"[^a-z0-9_]+")
_ALIASES = {"userid": "user_id", "user_id": "user_id", "anonymousid": "anonymous_id", "anonymous_id": "anonymous_id"}
_PERSONAL_TRAITS = ("email", "phone")
PREVIOUS = "previous_id"  # an alias's previous id: identity decides which type it names


def _object(text: str) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def type_name(raw: object) -> str:
    """An external id's type as an identifier type: lower-case, with underscores."""
    name = _TYPE.sub("_", str(raw).strip().lower()).strip("_")
    return _ALIASES.get(name.replace("_", ""), name)


def normal_email(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    return email if local and domain and " " not in email else None


def normal_phone(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) < 7:
        return None
    return ("+" if text.strip().startswith("+") else "") + digits


def revealed(event_type: str, field: str, value: Any, reveal: Reveal) -> Any:
    """A stored value with each token in it (at any depth, inside URLs) in clear; erased ones None."""
    if not any(True for _ in tokens_in(value, field)):
        return value

    def open_(name: str, token: str) -> Any:
        clear = reveal(event_type, name, token)
        return ERASED if clear is None else clear

    return replace_tokens(value, field, open_)


def _personal(kind: str, value: Any) -> str | None:
    return normal_email(value) if kind == "email" else normal_phone(value)


def call_identifiers(event: event_pb2.Event, reveal: Reveal) -> list[tuple[str, str]]:
    """(type, value) of every identifier the call carries, in no particular order; emails and
    phones normalised. An alias's previous id comes as PREVIOUS."""
    found: list[tuple[str, str]] = []
    if event.user_id:
        found.append(("user_id", event.user_id))
    if event.anonymous_id:
        found.append(("anonymous_id", event.anonymous_id))
    if event.previous_id:
        found.append((PREVIOUS, event.previous_id))
    context = _object(event.context) if event.context else {}
    holders: list[tuple[str, dict[str, Any]]] = []
    if event.type != "group" and event.traits:  # a group's traits describe the account
        holders.append((event.type, _object(event.traits)))
    if isinstance(context.get("traits"), dict):
        holders.append((event.type, context["traits"]))
    for event_type, traits in holders:
        for kind in _PERSONAL_TRAITS:
            if kind in traits:
                value = _personal(kind, revealed(event_type, kind, traits[kind], reveal))
                if value:
                    found.append((kind, value))
    external = context.get("externalIds")
    if isinstance(external, list):
        for entry in external:
            if not isinstance(entry, dict):
                continue
            kind, value = type_name(entry.get("type", "")), _text(revealed(event.type, "id", entry.get("id"), reveal))
            if not kind or value is None:
                continue
            if kind in _PERSONAL_TRAITS:
                value = _personal(kind, value)
            if value:
                found.append((kind, value))
    return list(dict.fromkeys(found))


def suppression_key(master_key: bytes, kind: str, value: str) -> str:
    """The keyed hash a suppressed identifier is listed by (emails and phones normalised)."""
    from cdp.platform.vault import blind_index

    if kind == "email":
        value = normal_email(value) or value
    elif kind == "phone":
        value = normal_phone(value) or value
    return blind_index(master_key, "suppressed", f"{kind}\x00{value}")
