"""Personal data in events: which fields are personal (cdp.pii), encrypted before anything is stored.

A call's personal values are encrypted under its subject (the user id, else the anonymous id) with
the call type and the field name as context. The value stays where it was (properties, traits,
context.traits, context.ip), replaced by its token; everything downstream copies tokens, and only
a reader that policy allows decrypts them. Forgetting destroys the subject's key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from cdp.api.common.v1 import event_pb2
from cdp.platform.decisions import Decider
from cdp.platform.vault import Vault, is_token

if TYPE_CHECKING:
    from cdp.platform.config import ServiceConfig

PII_DECISION = "data.cdp.pii.decision"
JSON_FIELDS = ("properties", "traits", "context")
MASK = "***"


def subject_of(user_id: str, anonymous_id: str) -> str:
    return f"user_id:{user_id}" if user_id else f"anonymous_id:{anonymous_id}"


def identifier_subjects(identifiers: Iterable[tuple[str, str]]) -> list[str]:
    """The subjects whose keys hold a person's data: one per user id and anonymous id."""
    return [f"{kind}:{value}" for kind, value in identifiers if kind in ("user_id", "anonymous_id")]


def _object(text: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(text) if text else {}
    return value


def _sealable(value: Any) -> bool:
    return value is not None and not is_token(value)


class PersonalData:
    def __init__(self, vault: Vault, decider: Decider):
        self.vault = vault
        self.decider = decider

    def personal(self, event_type: str, names: Iterable[str]) -> tuple[frozenset[str], str]:
        """Which of these field names are personal data, and the id of the decision that said so."""
        fields = sorted(set(names))
        decision = self.decider.decide(
            PII_DECISION, {"event_type": event_type, "fields": fields}, key=(event_type, *fields)
        )
        return frozenset(decision.result.get("personal", ())), decision.id

    def protect(self, event: event_pb2.Event, fields: dict[str, dict[str, Any]] | None = None) -> tuple[str, list[str]]:
        """Encrypt the personal values of a call (an Event message) in place.

        fields: the call's properties, traits and context, decoded already (they are changed in
        place too); without it they are decoded here. Only a field that changed is serialised
        again. Returns the pii decision id and the encrypted fields (as paths, e.g. traits.email).
        """
        if fields is None:
            fields = {name: _object(getattr(event, name)) for name in JSON_FIELDS}
        properties, traits, context = fields["properties"], fields["traits"], fields["context"]
        raw_context_traits = context.get("traits")
        context_traits: dict[str, Any] = raw_context_traits if isinstance(raw_context_traits, dict) else {}
        names = [*properties, *traits, *context_traits, *(["ip"] if "ip" in context else [])]
        if not names:
            return "", []
        personal, decision_id = self.personal(event.type, names)
        if not personal:
            return decision_id, []
        # (path label, the top-level field it lives in, the dict holding it, name)
        targets = [
            (label, top, holder, name)
            for label, top, holder in (
                ("properties", "properties", properties),
                ("traits", "traits", traits),
                ("context.traits", "context", context_traits),
            )
            for name in holder
            if name in personal and _sealable(holder[name])
        ]
        if "ip" in personal and isinstance(context.get("ip"), str) and not is_token(context["ip"]):
            targets.append(("context", "context", context, "ip"))
        if not targets:
            return decision_id, []
        subject = subject_of(event.user_id, event.anonymous_id)
        tokens = self.vault.encrypt_many(
            (subject, event.type, name, orjson.dumps(holder[name]).decode()) for _, _, holder, name in targets
        )
        for (_, _, holder, name), token in zip(targets, tokens, strict=True):
            holder[name] = token
        for top in dict.fromkeys(top for _, top, _, _ in targets):
            setattr(event, top, orjson.dumps(fields[top]).decode())
        return decision_id, sorted(f"{label}.{name}" for label, _, _, name in targets)

    def reveal(self, subject: str, event_type: str, name: str, value: Any) -> tuple[Any, bool]:
        """A stored value in clear: (value, erased). Values that are not tokens pass as they are."""
        if not is_token(value):
            return value, False
        text = self.vault.decrypt(subject, event_type, name, value)
        return (None, True) if text is None else (orjson.loads(text), False)

    def reveal_object(self, subject: str, event_type: str, values: dict[str, Any]) -> dict[str, Any]:
        """A dict of stored values in clear; erased values are left out."""
        out = {}
        for name, value in values.items():
            clear, erased = self.reveal(subject, event_type, name, value)
            if not erased:
                out[name] = clear
        return out


def open_vault(config: ServiceConfig) -> Vault:
    """The vault of a service: the shared key table, under the master key of the install."""
    from cdp.platform.vault import open_vault as open_install_vault

    return open_install_vault(config.store)


def subject_of_call(notification: Any) -> str:
    """The subject of a collected call (the ordering key of followers of the collector's log)."""
    from cdp.api.collector.v1 import collector_pb2

    accepted = collector_pb2.EventAccepted.FromString(notification.payload)
    return subject_of(accepted.event.user_id, accepted.event.anonymous_id)
