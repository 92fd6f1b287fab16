"""Personal data in events: which fields are personal (cdp.pii), encrypted before anything is stored.

A call's personal values, at any depth of its properties, traits and context and inside its URLs
(cdp.platform.classify finds them), are encrypted under its subject (the user id, else the
anonymous id) with the call type and the field name as context (cdp.platform.sealed has the rule).
Each value stays where it was, replaced by its token, so the payload keeps its shape; everything
downstream copies tokens, and only a reader that policy allows decrypts them. Forgetting destroys
the subject's key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from cdp.api.common.v1 import event_pb2
from cdp.platform.classify import (
    Names,
    NameVerdict,
    Plan,
    Shape,
    Target,
    ValueRules,
    keyed_objects,
    name_like,
    names,
    personal_key,
    shape,
    shape_names,
    targets,
)
from cdp.platform.decisions import Decider
from cdp.platform.sealed import ERASED, encode_token, param_field, replace_spans, replace_tokens, tokens_in
from cdp.platform.vault import Vault, is_token

if TYPE_CHECKING:
    from cdp.platform.config import ServiceConfig

PII_DECISION = "data.cdp.pii.decision"
JSON_FIELDS = ("properties", "traits", "context")
MASK = "***"
MAX_VERDICTS = 100_000  # distinct name sets remembered; cleared whole when full
MAX_PLANS = 10_000  # distinct (event type, shape) remembered; cleared whole when full
MAX_KEYS = 50_000  # object keys judged by the value patterns, remembered; cleared whole when full


def subject_of(user_id: str, anonymous_id: str) -> str:
    return f"user_id:{user_id}" if user_id else f"anonymous_id:{anonymous_id}"


def identifier_subjects(identifiers: Iterable[tuple[str, str]]) -> list[str]:
    """The subjects whose keys hold a person's data: one per user id and anonymous id."""
    return [f"{kind}:{value}" for kind, value in identifiers if kind in ("user_id", "anonymous_id")]


def _object(text: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(text) if text else {}
    return value


class PersonalData:
    def __init__(self, vault: Vault, decider: Decider):
        self.vault = vault
        self.decider = decider
        self._rules: tuple[str, ValueRules] | None = None  # compiled for one policy revision
        self._verdicts: dict[tuple[str, frozenset[str], frozenset[str]], tuple[NameVerdict, ValueRules, str]] = {}
        # Per event type and shape (cdp.platform.classify.Plan), for the revision they were made under.
        self._plans: dict[tuple[str, Shape], tuple[Plan, ValueRules, str]] = {}
        self._plans_revision = decider.revision
        self._keys: dict[str, bool] = {}
        self._keys_revision = decider.revision

    def _decide(self, event_type: str, found: Names) -> tuple[NameVerdict, ValueRules, str]:
        """The verdict on a call's names (one recorded decision per distinct event type and name
        set, remembered here so the hot path neither sorts nor evaluates), its value rules and the
        decision's id."""
        key = (event_type, frozenset(found.names), frozenset(found.qualified))
        known = self._verdicts.get(key)
        if known is None:
            fields, qualified = sorted(found.names), sorted(found.qualified)
            decision = self.decider.decide(
                PII_DECISION,
                {"event_type": event_type, "fields": fields, "qualified": qualified},
                key=(event_type, *fields, "\x00", *qualified),
            )
            if len(self._verdicts) >= MAX_VERDICTS:
                self._verdicts.clear()
            known = self._verdicts[key] = (
                NameVerdict.of(decision.result),
                self.value_rules(decision.result),
                decision.id,
            )
        return known

    def _planned(self, event_type: str, fields: dict[str, Any]) -> tuple[str, tuple[list[Target], list[str]]] | None:
        """The decision id and targets() of a call by its shape's plan; None for a call no plan
        can stand for (lists, query parameters, a key that is personal data). A call with no names gets
        no decision ("")."""
        call_shape = shape(fields)
        if call_shape is None:
            return None
        if not call_shape:
            return "", ([], [])
        if self._plans_revision != self.decider.revision:
            self._plans.clear()
            self._plans_revision = self.decider.revision
        key = (event_type, call_shape)
        known = self._plans.get(key)
        if known is None:
            # The walk seals the objects a personal key is in. Such a shape is not remembered:
            # calls that each bring a new address as a key would evict every other plan.
            if self._has_personal_key(shape_names(call_shape), event_type):
                return None
            verdict, rules, decision_id = self._decide(event_type, names(fields))
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            known = self._plans[key] = (Plan.of(call_shape, verdict), rules, decision_id)
        plan, rules, decision_id = known
        return decision_id, plan.targets(fields, rules)

    def _has_personal_key(self, keys: Iterable[str], event_type: str) -> bool:
        return any(self._personal_key(name, event_type) for name in keys)

    def personal_keys(self, keys: Iterable[str], event_type: str) -> set[str]:
        """The keys among these that are personal data by the policy's value patterns."""
        return {name for name in keys if self._personal_key(name, event_type)}

    def _personal_key(self, name: str, event_type: str) -> bool:
        """Each key judged once a revision: most calls repeat their keys."""
        if self._keys_revision != self.decider.revision:
            self._keys.clear()
            self._keys_revision = self.decider.revision
        known = self._keys.get(name)
        if known is None:
            # A plain name no value pattern can match: the rules (a decision) are not needed.
            known = not name_like(name) and personal_key(name, self._current_rules(event_type))
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
            self._keys[name] = known
        return known

    def _current_rules(self, event_type: str) -> ValueRules:
        """This revision's value rules: from its decisions so far, else from one on no names."""
        if self._rules is not None and self._rules[0] == self.decider.revision:
            return self._rules[1]
        return self._decide(event_type, Names())[1]

    def value_rules(self, result: dict[str, Any]) -> ValueRules:
        """The value patterns a cdp.pii decision carries, compiled once per policy revision."""
        revision = self.decider.revision
        if self._rules is None or self._rules[0] != revision:
            self._rules = (revision, ValueRules(result.get("value_patterns") or {}))
        return self._rules[1]

    def protect(self, event: event_pb2.Event, fields: dict[str, dict[str, Any]] | None = None) -> tuple[str, list[str]]:
        """Encrypt the personal values of a call (an Event message) in place, at any depth.

        fields: the call's properties, traits and context, decoded already (they are changed in
        place too); without it they are decoded here. Only a field that changed is serialised
        again. Returns the pii decision id and the paths of the call's sealed values (those sealed
        now and any sealed before, e.g. traits.email, properties.contact.phone,
        context.page.url?email; see cdp.platform.sealed for the field name each is sealed under).
        """
        if fields is None:
            fields = {name: _object(getattr(event, name)) for name in JSON_FIELDS}
        subject = subject_of(event.user_id, event.anonymous_id)
        planned = self._planned(event.type, fields)
        if planned is not None:
            decision_id, (chosen, paths) = planned
        else:
            found = names(fields)
            if self._has_personal_key(found.names, event.type):
                self._seal_keyed(event, subject, fields)
                found = names(fields)  # without them: no personal key is a decision's input
            if not found.names:
                return "", []
            verdict, rules, decision_id = self._decide(event.type, found)
            chosen, paths = targets(fields, found, verdict, rules)
        if not chosen:
            return decision_id, sorted(paths)
        items: list[tuple[str, str, str, str]] = []
        for t in chosen:
            if t.params is None:
                items.append((subject, event.type, t.key, orjson.dumps(t.holder[t.slot]).decode()))
            else:
                text = t.holder[t.slot]
                items += [
                    (subject, event.type, param_field(t.key, p.marker, p.name), orjson.dumps(p.raw(text)).decode())
                    for p in t.params
                ]
        tokens = iter(self.vault.encrypt_many(items))
        for t in chosen:
            if t.params is None:
                t.holder[t.slot] = next(tokens)
                paths.append(t.path)
            else:
                text = t.holder[t.slot]
                t.holder[t.slot] = replace_spans(text, [(p.start, p.end, encode_token(next(tokens))) for p in t.params])
                paths += [f"{t.path}{p.marker}{p.name}" for p in t.params]
        for top in dict.fromkeys(t.path.split(".", 1)[0] for t in chosen):
            setattr(event, top, orjson.dumps(fields[top]).decode())
        return decision_id, sorted(paths)

    def _seal_keyed(self, event: event_pb2.Event, subject: str, fields: dict[str, dict[str, Any]]) -> None:
        """Seal whole each object a personal key is in (classify.keyed_objects), before the names
        are judged (the walks after find them sealed). The value rules are the policy's, as for
        values."""
        keyed = keyed_objects(fields, self._current_rules(event.type))
        if not keyed:
            return
        items = [(subject, event.type, t.key, orjson.dumps(t.holder[t.slot]).decode()) for t in keyed]
        for t, token in zip(keyed, self.vault.encrypt_many(items), strict=True):
            t.holder[t.slot] = token
        for top in dict.fromkeys(t.path.split(".", 1)[0] for t in keyed):
            setattr(event, top, orjson.dumps(fields[top]).decode())

    def reveal(self, subject: str, event_type: str, name: str, value: Any) -> tuple[Any, bool]:
        """A stored value in clear, tokens at any depth decrypted: (value, erased). A value that
        holds no token passes as it is; a token whose key is gone is erased (None inside a value)."""
        if is_token(value):
            text = self.vault.decrypt(subject, event_type, name, value)
            return (None, True) if text is None else (orjson.loads(text), False)
        return reveal_tree(self.vault, subject, event_type, name, value), False

    def reveal_object(self, subject: str, event_type: str, values: dict[str, Any]) -> dict[str, Any]:
        """A dict of stored values in clear; erased values are left out."""
        out = {}
        for name, value in values.items():
            clear, erased = self.reveal(subject, event_type, name, value)
            if not erased:
                out[name] = clear
        return out


def reveal_tree(vault: Vault, subject: str, event_type: str, field: str, value: Any, erased: Any = None) -> Any:
    """A stored value with every token in it decrypted (one vault call for all); tokens whose key
    is gone become `erased` (and an empty parameter inside a URL)."""
    found = list(tokens_in(value, field))
    if not found:
        return value
    texts = vault.decrypt_many((subject, event_type, name, token) for name, token in found)
    clear = {
        token: (ERASED if text is None else orjson.loads(text)) for (_, token), text in zip(found, texts, strict=True)
    }
    return replace_tokens(value, field, lambda _name, token: clear[token], erased)


def open_vault(config: ServiceConfig) -> Vault:
    """The vault of a service: the shared key table, under the master key of the install."""
    from cdp.platform.vault import open_vault as open_install_vault

    return open_install_vault(config.store)


def subject_of_call(notification: Any) -> str:
    """The subject of a collected call (the ordering key of followers of the collector's log)."""
    from cdp.api.collector.v1 import collector_pb2

    accepted = collector_pb2.EventAccepted.FromString(notification.payload)
    return subject_of(accepted.event.user_id, accepted.event.anonymous_id)
