"""How a profile is shown to a caller: personal values in clear only where policy allows, at every
depth (a token nested in a trait, or sealed inside a URL, is masked or decrypted like a top-level
one; cdp.platform.sealed has the rule for the field name each was sealed under)."""

from __future__ import annotations

from typing import Any

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.personal import MASK
from cdp.platform.sealed import ERASED, holds_tokens, replace_tokens, tokens_in
from cdp.platform.vault import Vault, is_token

MASKED = orjson.dumps(MASK).decode()


def _show(name: str, trait: pb.TraitValue, clear: bool, vault: Vault) -> None:
    if trait.erased or not holds_tokens(trait.value):
        return
    stored: Any = orjson.loads(trait.value)
    if not clear:
        if is_token(stored):
            trait.value, trait.masked = MASKED, True
        else:
            masked = replace_tokens(stored, name, lambda _field, _token: MASK)
            trait.value, trait.masked = orjson.dumps(masked).decode(), masked != stored
        return
    found = list(tokens_in(stored, name))
    if not found:
        return
    texts = vault.decrypt_many((trait.subject, trait.event_type, field, token) for field, token in found)
    if is_token(stored):
        if texts[0] is None:
            trait.value, trait.erased = "null", True
        else:
            trait.value = texts[0]
        return
    values = {
        token: ERASED if text is None else orjson.loads(text) for (_, token), text in zip(found, texts, strict=True)
    }
    trait.value = orjson.dumps(replace_tokens(stored, name, lambda _field, token: values[token])).decode()


def present(profile: pb.Profile, clear: bool, vault: Vault) -> pb.Profile:
    """A copy of the stored profile with personal values decrypted (clear) or masked."""
    shown = pb.Profile()
    shown.CopyFrom(profile)
    for traits in [shown.traits, *(a.traits for a in shown.accounts)]:
        for name, trait in traits.items():
            _show(name, trait, clear, vault)
    return shown
