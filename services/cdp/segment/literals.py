"""Personal literals of audience definitions: sealed before a definition is stored, opened in memory
only to evaluate, and shown in clear only to a caller who may see personal data in clear.

A literal is personal when its condition's trait is (the audience decision's `personal`: the cdp.pii
classes its refusal uses, of the trait or of a key path in an object literal) or when it is an
email, whatever the trait. An email, or a phone on a contact trait, is sealed under its
literal_subject (a keyed hash of the normalised value), which identity destroys when it forgets the
person who has it; any other personal literal (a name, a city) under the audience's own subject.
A personal literal must be one string, number or boolean: no one subject could erase every person a
list or an object might name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.platform.identifiers import normal_email
from cdp.platform.literals import literal_subject
from cdp.platform.personal import MASK
from cdp.platform.vault import Vault
from cdp.segment import domain
from cdp.segment import language as lang

MASKED = orjson.dumps(MASK).decode()
CONTACT = "pii.contact"  # the class of emails and phones (policies/data/data.json)


def key_paths(trait: str, value: Any) -> Iterator[str]:
    """The dotted paths of the keys of an object literal, at any depth ("contact.email")."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{trait}.{key}"
            yield path
            yield from key_paths(path, inner)
    elif isinstance(value, list):
        for item in value:
            yield from key_paths(trait, item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _strings(inner)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _is_email(text: str) -> bool:
    return "@" in text and normal_email(text) is not None


def _class_of(trait: str, value: Any, personal: Mapping[str, str]) -> str | None:
    """The personal class of a condition's trait or of a key path of its literal, if any."""
    if trait in personal:
        return personal[trait]
    return next((personal[p] for p in key_paths(trait, value) if p in personal), None)


def context(audience_id: str) -> str:
    """The event type a literal's token is bound to: it decrypts only in its own audience."""
    return f"audience:{audience_id}"


class Literals:
    def __init__(self, vault: Vault | None, index_key: bytes | None):
        self.vault = vault
        self.index_key = index_key  # for literal subjects; without it every literal is the audience's

    # Storing --------------------------------------------------------------------------------

    def seal(
        self, audience_id: str, conditions: Sequence[pb.Condition], personal: Mapping[str, str]
    ) -> list[pb.Condition]:
        """Copies of the first form's conditions, each personal literal replaced by its token."""
        out: list[pb.Condition] = []
        for index, condition in enumerate(conditions):
            copy = pb.Condition()
            copy.CopyFrom(condition)
            out.append(copy)
            if copy.HasField("trait"):
                self._seal_one(audience_id, copy.trait, f"conditions[{index}].trait.value", personal)
        return out

    def seal_definition(self, audience_id: str, node: pb.Node, personal: Mapping[str, str]) -> pb.Node:
        """A copy of a definition, each personal literal (of a trait or a property) sealed."""
        copy = pb.Node()
        copy.CopyFrom(node)
        for where, comparison in comparisons_of(copy):
            self._seal_one(audience_id, comparison, f"{where}.value", personal)
        return copy

    def _seal_one(self, audience_id: str, trait: pb.TraitCondition, where: str, personal: Mapping[str, str]) -> None:
        if not trait.value:
            return
        value = orjson.loads(trait.value)
        cls = _class_of(trait.trait, value, personal)
        if cls is None and not any(_is_email(s) for s in _strings(value)):
            return
        if value is None:
            return
        if isinstance(value, dict | list):
            raise domain.InvalidAudience(
                f"{where}: a literal that is or holds personal data must be one string, number or boolean, "
                "so that forgetting the person it names can erase it"
            )
        if self.vault is None:
            raise domain.InvalidAudience(f"{where}: is personal, and this segment has no vault to seal it")
        subject = self._subject(audience_id, trait.trait, cls, value)
        token = self.vault.encrypt(subject, context(audience_id), trait.trait, orjson.dumps(value).decode())
        trait.value, trait.subject = orjson.dumps(token).decode(), subject

    def _subject(self, audience_id: str, trait: str, cls: str | None, value: Any) -> str:
        if self.index_key is not None:
            if isinstance(value, str) and _is_email(value):
                return literal_subject(self.index_key, "email", value) or context(audience_id)
            last = trait.rsplit(".", 1)[-1].lower()
            if cls == CONTACT or "phone" in last or "mobile" in last:
                phone = literal_subject(self.index_key, "phone", value) if not isinstance(value, bool) else None
                if phone:
                    return phone
        return context(audience_id)

    # Evaluating -----------------------------------------------------------------------------

    def opened(self, definitions: Mapping[str, domain.AudienceDefinition]) -> dict[str, domain.AudienceDefinition]:
        """The definitions with their literals decrypted (ERASED where the key was destroyed), to
        evaluate and drop: decrypted literals are never kept."""
        sealed = [
            (audience_id, c)
            for audience_id, definition in definitions.items()
            for c in definition.comparisons()
            if isinstance(c.value, domain.Sealed)
        ]
        if not sealed:
            return dict(definitions)
        values = self._decrypt([(a, c.trait, c.value.subject, c.value.token) for a, c in sealed])
        clear = {
            (a, id(c)): (domain.ERASED if text is None else orjson.loads(text))
            for (a, c), text in zip(sealed, values, strict=True)
        }
        out = dict(definitions)  # those with nothing sealed stay the same objects
        for audience_id in dict.fromkeys(a for a, _ in sealed):
            definition = definitions[audience_id]

            def open_one(c: domain.TraitCondition, audience_id: str = audience_id) -> domain.TraitCondition:
                key = (audience_id, id(c))
                return replace(c, value=clear[key]) if key in clear else c

            out[audience_id] = replace(definition, root=map_comparisons(definition.root, open_one))
        return out

    def _decrypt(self, items: list[tuple[str, str, str, str]]) -> list[str | None]:
        if self.vault is None:
            return [None] * len(items)
        return self.vault.decrypt_many((subject, context(a), trait, token) for a, trait, subject, token in items)

    # Showing --------------------------------------------------------------------------------

    def shown(self, audience: pb.Audience, clear: bool) -> pb.Audience:
        """A copy to show: personal literals decrypted (clear), else masked; erased ones empty."""
        out = pb.Audience()
        out.CopyFrom(audience)
        sealed = [c.trait for c in out.conditions if c.HasField("trait") and c.trait.subject]
        if out.HasField("definition"):
            sealed += [c for _, c in comparisons_of(out.definition) if c.subject]
        texts = self._decrypt([(out.audience_id, t.trait, t.subject, orjson.loads(t.value)) for t in sealed])
        for trait, text in zip(sealed, texts, strict=True):
            trait.subject = ""
            if text is None:
                trait.value, trait.erased = "", True
            elif clear:
                trait.value = text
            else:
                trait.value, trait.masked = MASKED, True
        return out


def comparisons_of(node: pb.Node, where: str = "definition") -> Iterator[tuple[str, pb.TraitCondition]]:
    """Every trait condition and event property filter of a definition, with its JSON path."""
    kind = node.WhichOneof("kind")
    if kind in ("all", "any"):
        for i, item in enumerate(getattr(node, kind).nodes):
            yield from comparisons_of(item, f"{where}.{kind}[{i}]")
    elif kind == "not":
        yield from comparisons_of(getattr(node, "not"), f"{where}.not")
    elif kind == "trait":
        yield where, node.trait
    elif kind == "account_trait":
        yield where, node.account_trait
    elif kind == "account":
        yield from comparisons_of(node.account.member, f"{where}.account.{node.account.quantifier}")
    elif kind == "event":
        for i, w in enumerate(node.event.where):
            yield f"{where}.where[{i}]", w
    elif kind == "funnel":
        for s, step in enumerate(node.funnel.steps):
            for i, w in enumerate(step.where):
                yield f"{where}.funnel[{s}].where[{i}]", w


def map_comparisons(node: Any, fn: Callable[[domain.TraitCondition], domain.TraitCondition]) -> Any:
    """The tree with each trait condition and property filter replaced by fn's answer."""
    if isinstance(node, lang.All | lang.Any_):
        return type(node)(tuple(map_comparisons(x, fn) for x in node.items))
    if isinstance(node, lang.Not):
        return lang.Not(map_comparisons(node.item, fn))
    if isinstance(node, domain.TraitCondition):
        return fn(node)  # an AccountTrait too (fn keeps its class)
    if isinstance(node, lang.Quantified):
        return lang.Quantified(node.quantifier, map_comparisons(node.member, fn))
    if isinstance(node, lang.Event):
        return replace(node, where=tuple(fn(w) for w in node.where))
    if isinstance(node, lang.Funnel):
        return replace(node, steps=tuple(map_comparisons(s, fn) for s in node.steps))
    return node
