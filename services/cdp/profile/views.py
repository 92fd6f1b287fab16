"""How a profile, an account or a call of a timeline is shown to a caller: personal values in clear
only where policy allows, at every depth (a token nested in a trait, or sealed inside a URL, is
masked or decrypted like a top-level one; cdp.platform.sealed has the rule for the field name each
was sealed under)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.personal import MASK
from cdp.platform.sealed import ERASED, holds_tokens, replace_tokens, tokens_in
from cdp.platform.vault import Vault, is_token

MASKED = orjson.dumps(MASK).decode()


@dataclass(frozen=True)
class Shown:
    value: str  # JSON text
    masked: bool = False
    erased: bool = False


def show_value(text: str, name: str, subject: str, event_type: str, clear: bool, vault: Vault) -> Shown:
    """A stored JSON value (a trait, a call's properties) as a caller sees it: its tokens, at any
    depth, decrypted (clear), masked or, when their key is gone, erased. name: the field the value
    was stored under (a token's field name is the nearest object key above it)."""
    if not holds_tokens(text):
        return Shown(text)
    stored: Any = orjson.loads(text)
    if not clear:
        if is_token(stored):
            return Shown(MASKED, masked=True)
        masked = replace_tokens(stored, name, lambda _field, _token: MASK)
        return Shown(orjson.dumps(masked).decode(), masked=masked != stored)
    found = list(tokens_in(stored, name))
    if not found:
        return Shown(text)
    texts = vault.decrypt_many((subject, event_type, field, token) for field, token in found)
    if is_token(stored):
        return Shown("null", erased=True) if texts[0] is None else Shown(texts[0])
    values = {
        token: ERASED if text is None else orjson.loads(text) for (_, token), text in zip(found, texts, strict=True)
    }
    shown = orjson.dumps(replace_tokens(stored, name, lambda _field, token: values[token])).decode()
    return Shown(shown, erased=any(t is None for t in texts))


def _show(name: str, trait: pb.TraitValue, clear: bool, vault: Vault) -> None:
    if trait.erased:
        return
    shown = show_value(trait.value, name, trait.subject, trait.event_type, clear, vault)
    trait.value = shown.value
    if shown.masked:
        trait.masked = True
    if shown.erased and shown.value == "null":
        trait.erased = True


def present_traits(traits, clear: bool, vault: Vault) -> None:
    """Show a map of traits (a profile's, an account's) in place, as the caller may see them."""
    for name, trait in traits.items():
        _show(name, trait, clear, vault)


def present_event(event: pb.TimelineEvent, clear: bool, vault: Vault) -> pb.TimelineEvent:
    """A copy of a stored call with its personal values, at every depth of its properties, traits
    and context, decrypted (clear), masked or erased."""
    shown = pb.TimelineEvent()
    shown.CopyFrom(event)
    for name in ("properties", "traits", "context"):
        result = show_value(getattr(event, name), name, event.subject, event.type, clear, vault)
        setattr(shown, name, result.value)
        shown.masked = shown.masked or result.masked
        shown.erased = shown.erased or result.erased
    return shown


def present(profile: pb.Profile, clear: bool, vault: Vault) -> pb.Profile:
    """A copy of the stored profile with personal values decrypted (clear) or masked."""
    shown = pb.Profile()
    shown.CopyFrom(profile)
    for traits in [shown.traits, *(a.traits for a in shown.accounts)]:
        present_traits(traits, clear, vault)
    return shown
