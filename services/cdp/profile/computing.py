"""Computed traits in profile: their definitions, the calls each keeps per key, their values per
person as traits, and a timer per person for the instant a windowed value changes by itself.

A person's calls are those of its keys (as its profile is the fold of its keys' partials), so a
merge or a split recomputes the values of the persons involved from the calls they hold now.

A personal property's value (a token) is compared by a digest of its clear value, in memory only,
and a value chosen from it is sealed again, under the subject of the call it came from and the
trait's name (the name every reader decrypts a trait under): forgetting the person erases it as
any trait. The same value is sealed to the same token, so it is no change, across restarts too.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.clock import format_iso, parse_iso
from cdp.platform.personal import reveal_tree
from cdp.platform.sealed import holds_tokens
from cdp.platform.timers import Timers
from cdp.platform.vault import DecryptError, Vault, is_token
from cdp.profile import computed
from cdp.profile.domain import Key, count_key
from cdp.segment.engine import compare, lookup

SOURCE = "computed"  # the source_id of a computed trait's value


def definition_of(trait: pb.ComputedTrait) -> computed.Definition:
    return computed.parse(trait.name, orjson.loads(trait.definition_json))


def label(trait: pb.ComputedTrait) -> str:
    return f"{trait.name}@{trait.version}"


class ComputedTraits:
    def __init__(self, vault: Vault | None):
        self.vault = vault
        self.traits: dict[str, pb.ComputedTrait] = {}
        self.definitions: dict[str, computed.Definition] = {}
        self.by_event: dict[str, list[str]] = {}  # event name (as counted) -> trait names
        self.observed: dict[Key, dict[str, list[computed.Observation]]] = {}  # key -> trait -> calls
        self.timers = Timers()
        # A sealed value chosen again is the token it was sealed to (a new seal is a new token):
        # by the tokens it was opened from, and by trait, subject and a digest of its clear value
        # (which the published profiles give back at start).
        self._sealed: dict[tuple[str, tuple[str, ...]], str] = {}
        self._sealed_as: dict[tuple[str, str, str, str], str] = {}

    def register(self, trait: pb.ComputedTrait) -> None:
        definition = definition_of(trait)
        self.traits[trait.name] = trait
        self.definitions[trait.name] = definition
        self.by_event.setdefault(definition.event, []).append(trait.name)

    # Calls -------------------------------------------------------------------------------------

    def observe(self, calls: Iterable[pb.ObservedCall], now: datetime, only: set[str] | None = None) -> set[Key]:
        """Keep what the traits (those named in only, or all) read of these calls; returns the keys
        that kept something. A windowed trait keeps the calls still inside its window (and the
        latest before it: the person has the trait)."""
        touched: set[Key] = set()
        for call in calls:
            event = call.event
            names = self.by_event.get(count_key(event.type, event.event), [])
            names = [n for n in names if only is None or n in only]
            if not names:
                continue
            try:
                at = parse_iso(event.timestamp)
            except ValueError:
                continue  # no time to place it by (the collector gives every call one)
            stored = orjson.loads(event.properties or "{}")
            clear = self._revealed(event, stored)
            key = (call.key_type, call.key_value)
            for name in names:
                definition = self.definitions[name]
                if not all(compare(w, lookup(clear, w.trait), at)[0] for w in definition.where):
                    continue
                observation = _observation(definition, event, at, stored, clear)
                kept = self.observed.setdefault(key, {}).setdefault(name, [])
                place = bisect.bisect_left(kept, (at, event.event_id), key=_order)
                if place < len(kept) and kept[place].event_id == event.event_id:
                    continue  # observed already (a call's batch followed again)
                kept.insert(place, observation)
                _prune(definition, kept, now)
                touched.add(key)
        return touched

    def forget_sealed(self) -> None:
        """Seal every chosen personal value again (after a forget: those of the forgotten are erased)."""
        self._sealed.clear()
        self._sealed_as.clear()

    def remember_sealed(self, published: Iterable[tuple[str, pb.TraitValue]]) -> None:
        """Take the tokens published profiles hold for sealed computed values (at start), so that
        the same value is the same token and is no change."""
        found = [(n, t) for n, t in published if t.subject and not t.erased and is_token(orjson.loads(t.value))]
        if not found or self.vault is None:
            return
        tokens = [orjson.loads(t.value) for _, t in found]
        try:
            texts = self.vault.decrypt_many(
                (t.subject, t.event_type, n, token) for (n, t), token in zip(found, tokens, strict=True)
            )
        except DecryptError:
            return
        for (name, t), token, text in zip(found, tokens, texts, strict=True):
            if text is not None:
                self._sealed_as[(name, t.subject, t.event_type, _digest(text))] = token

    def _revealed(self, event: pb.TimelineEvent, stored: Any) -> Any:
        """The call's properties with their tokens opened, to filter and compare (dropped after);
        a token that does not open stays as it is."""
        if self.vault is None or not holds_tokens(event.properties):
            return stored
        try:
            return reveal_tree(self.vault, event.subject, event.type, "properties", stored)
        except DecryptError:
            return stored

    # Values ------------------------------------------------------------------------------------

    def values(self, keys: Iterable[Key], now: datetime) -> tuple[dict[str, pb.TraitValue], datetime | None]:
        """The computed traits of a person with these keys at `now`, and the next instant one of
        them changes by itself."""
        by_trait: dict[str, list[computed.Observation]] = {}
        for key in keys:
            for name, kept in self.observed.get(key, {}).items():
                by_trait.setdefault(name, []).extend(kept)
        out: dict[str, pb.TraitValue] = {}
        edges: list[datetime] = []
        for name, observations in sorted(by_trait.items()):
            observations.sort(key=lambda o: (o.at, o.event_id))
            definition = self.definitions[name]
            result = computed.compute(definition, observations, now)
            edge = computed.next_change(definition, observations, now)
            if edge is not None:
                edges.append(edge)
            if result is not None:
                out[name] = self._trait_value(self.traits[name], result)
        return out, min(edges) if edges else None

    def _trait_value(self, trait: pb.ComputedTrait, result: computed.Result) -> pb.TraitValue:
        latest = result.latest
        shown = pb.TraitValue(
            source_id=SOURCE,
            event_id=latest.event_id,
            updated_at=format_iso(latest.at),
            computed=label(trait),
        )
        if not result.sealed:
            shown.value = computed.canonical(result.value)
            return shown
        # Sealed under the subject of the latest call it is made of (a list: of the latest).
        source = result.sealed[-1]
        shown.subject, shown.event_type = source.subject, source.event_type
        sources = tuple(o.value if isinstance(o.value, str) else computed.canonical(o.value) for o in result.sealed)
        token = self._sealed.get((trait.name, sources))
        if token is None:
            token = self._seal(trait.name, source, result)
            if token is None:
                shown.value, shown.erased = "null", True
                return shown
            self._sealed[(trait.name, sources)] = token
        shown.value = orjson.dumps(token).decode()
        return shown

    def _seal(self, name: str, source: computed.Observation, result: computed.Result) -> str | None:
        if self.vault is None:
            return None
        clear: list[Any] = []
        for o in result.sealed:
            [(leaf, token)] = o.value.items()
            try:
                opened = reveal_tree(self.vault, o.subject, o.event_type, "properties", {leaf: token})
            except DecryptError:
                return None
            if opened.get(leaf) is None:
                return None  # its key is gone: erased
            clear.append(opened[leaf])
        text = computed.canonical(clear if isinstance(result.value, list) else clear[0])
        key = (name, source.subject, source.event_type, _digest(text))
        token = self._sealed_as.get(key)
        if token is None:
            token = self._sealed_as[key] = self.vault.encrypt(source.subject, source.event_type, name, text)
        return token


def _digest(text: str) -> str:
    """What a clear value is known by in memory: never the value itself."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _order(o: computed.Observation) -> tuple[datetime, str]:
    return (o.at, o.event_id)


def _prune(definition: computed.Definition, kept: list[computed.Observation], now: datetime) -> None:
    """Drop the calls a relative window has passed for good (all but the latest of them)."""
    window = definition.window
    horizon = window.horizon() if window is not None else None
    if horizon is None:
        return
    cutoff = bisect.bisect_right(kept, now - horizon, key=lambda o: o.at)
    if cutoff > 1:
        del kept[: cutoff - 1]


def _observation(
    definition: computed.Definition, event: pb.TimelineEvent, at: datetime, stored: Any, clear: Any
) -> computed.Observation:
    if not definition.property:
        return computed.Observation(at, event.event_id)
    value = lookup(stored, definition.property)
    if value is None:
        return computed.Observation(at, event.event_id)
    text = computed.canonical(value)
    if not holds_tokens(text):
        return computed.Observation(at, event.event_id, value, text)
    # Equal clear values sealed twice are two tokens: compared by a digest of the clear value.
    same = computed.canonical(lookup(clear, definition.property))
    digest = "sealed:" + hashlib.blake2b(same.encode(), digest_size=16).hexdigest()
    # A value inside properties is sealed under its own key: wrapped so the walk finds its name.
    leaf = definition.property.rsplit(".", 1)[-1]
    return computed.Observation(at, event.event_id, {leaf: value}, digest, event.subject, event.type, sealed=True)
