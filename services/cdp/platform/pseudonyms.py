"""Ids whose values are personal data (an email or a phone used as the userId), kept as pseudonyms.

Segment lets any string be a userId, and many apps use the email. Stored as sent, it would outlive a
forget in every append-only store downstream (calls, identity's graph, profiles, the decision log).
So the collector replaces such a value by a pseudonym, "psn:" and a random id the key table holds for
that value (naming the value only by a keyed hash, and only until the person is forgotten), and keeps
the clear value on the call, sealed under the pseudonym's own subject. Everything downstream joins,
orders and keys on the pseudonym; identity finds it from the clear value through its blind index.
Forgetting the person destroys the pseudonym's subject key (the sealed value reads as erased) and the
alias row (the value's next call gets a new pseudonym, as a new person would).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cdp.api.common.v1 import event_pb2
from cdp.platform.vault import Vault, blind_index

PREFIX = "psn:"
FIELDS = ("user_id", "anonymous_id", "previous_id")
SEALED_CONTEXT = "identifier"  # the associated data's event type for a sealed id
# What makes an id personal by its value. Numeric ids stay as they are: most apps number their users,
# and a bare number is no phone; a phone is only taken as one in international form.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+[\d\s().-]{7,24}$")


def is_personal(value: str) -> bool:
    """Whether an id's value is itself personal data (an email, or a phone in international form)."""
    if _EMAIL.match(value.strip()):
        return True
    if _PHONE.match(value.strip()):
        return sum(c.isdigit() for c in value) >= 8
    return False


def alias_subject(master_key: bytes, value: str) -> str:
    """The key table's name for a personal id's pseudonym: a keyed hash of the exact value (ids are
    case-sensitive, so Alice@x and alice@x are two ids, as they are to Segment)."""
    return "alias:" + blind_index(master_key, "identifier", value)


def sealed_subject(field: str, pseudonym: str) -> str:
    """The subject a pseudonymised field's clear value is sealed under (for user_id, the call's own)."""
    return f"{field}:{pseudonym}"


class Pseudonyms:
    """The collector's side: pseudonyms for the personal ids of calls, found or made in one key
    transaction a batch (the vault caches them)."""

    def __init__(self, vault: Vault, master_key: bytes):
        self.vault = vault
        self._master_key = master_key

    def personal_values(self, events: Iterable[event_pb2.Event]) -> set[str]:
        return {v for e in events for f in FIELDS if (v := getattr(e, f)) and is_personal(v)}

    def of(self, values: Iterable[str]) -> dict[str, str]:
        """The pseudonym of each value (made on first sight)."""
        subjects = {value: alias_subject(self._master_key, value) for value in values}
        if not subjects:
            return {}
        keys = self.vault.keys_for(subjects.values())
        return {value: PREFIX + keys[subject] for value, subject in subjects.items()}

    def apply(self, event: event_pb2.Event) -> list[str]:
        """Replace the event's personal ids by their pseudonyms, sealing each clear value on the event;
        returns the fields replaced."""
        values = [v for f in FIELDS if (v := getattr(event, f)) and is_personal(v)]
        if not values:
            return []
        pseudonyms = self.of(values)
        replaced = []
        for field in FIELDS:
            value = getattr(event, field)
            if value in pseudonyms:
                pseudonym = pseudonyms[value]
                setattr(event, field, pseudonym)
                event.sealed_identifiers[field] = self.vault.encrypt(
                    sealed_subject(field, pseudonym), SEALED_CONTEXT, field, value
                )
                replaced.append(field)
        return replaced


def unsealed(vault: Vault, event: event_pb2.Event, field: str) -> str | None:
    """A pseudonymised field's clear value (None when erased or not pseudonymised)."""
    token = event.sealed_identifiers.get(field)
    if not token:
        return None
    return vault.decrypt(sealed_subject(field, getattr(event, field)), SEALED_CONTEXT, field, token)
