"""How a profile is shown to a caller: personal values in clear only where policy allows."""

from __future__ import annotations

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.personal import MASK
from cdp.platform.vault import Vault, is_token

MASKED = orjson.dumps(MASK).decode()


def _show(name: str, trait: pb.TraitValue, clear: bool, vault: Vault) -> None:
    if trait.erased:
        return
    token = orjson.loads(trait.value)
    if not is_token(token):
        return
    if not clear:
        trait.value, trait.masked = MASKED, True
        return
    value = vault.decrypt(trait.subject, trait.event_type, name, token)
    if value is None:
        trait.value, trait.erased = "null", True
    else:
        trait.value = value


def present(profile: pb.Profile, clear: bool, vault: Vault) -> pb.Profile:
    """A copy of the stored profile with personal values decrypted (clear) or masked."""
    shown = pb.Profile()
    shown.CopyFrom(profile)
    for traits in [shown.traits, *(a.traits for a in shown.accounts)]:
        for name, trait in traits.items():
            _show(name, trait, clear, vault)
    return shown
