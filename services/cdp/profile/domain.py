"""Profiles: what a person's calls say about them, with where each fact came from.

Folding is order-independent, so a profile is the same whichever order calls
and merges arrive in: a trait keeps the value with the latest timestamp (ties
broken by event id), counts add up, first and last seen are min and max.

What the calls say is kept per key (the user id of a call, or its anonymous id
when it has none): a partial profile per key, and the person each key belongs
to. A person's profile is the fold of the partials of its keys, so a merge is a
union and a split a recomputation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from cdp.profile.consent import ConsentState
from cdp.profile.consent import fold as fold_consent


@dataclass(frozen=True)
class TraitValue:
    value: str  # JSON text; for personal data, the token it was encrypted to
    source_id: str
    event_id: str
    updated_at: str  # RFC 3339, UTC
    subject: str = ""  # whose key encrypts a personal value
    event_type: str = ""  # the call type it came in
    erased: bool = False

    def newer_than(self, other: TraitValue | None) -> bool:
        return other is None or (self.updated_at, self.event_id) > (other.updated_at, other.event_id)


@dataclass
class ProfileState:
    person_id: str
    traits: dict[str, TraitValue] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    first_seen: str = ""
    last_seen: str = ""
    accounts: dict[str, dict[str, TraitValue]] = field(default_factory=dict)
    merged_person_ids: list[str] = field(default_factory=list)
    consent: dict[str, ConsentState] = field(default_factory=dict)  # by category, as stated


def count_key(call_type: str, event_name: str) -> str:
    """Track calls count under their event name, other calls under $type."""
    return event_name if call_type == "track" else f"${call_type}"


def set_traits(target: dict[str, TraitValue], traits: dict[str, str], provenance: TraitValue) -> bool:
    changed = False
    for name, value in traits.items():
        candidate = TraitValue(
            value,
            provenance.source_id,
            provenance.event_id,
            provenance.updated_at,
            provenance.subject,
            provenance.event_type,
        )
        if candidate.newer_than(target.get(name)):
            target[name] = candidate
            changed = True
    return changed


def observe(
    profile: ProfileState,
    *,
    call_type: str,
    event_name: str,
    timestamp: str,
    source_id: str,
    event_id: str,
    traits: dict[str, str],
    group_id: str = "",
    group_traits: dict[str, str] | None = None,
    subject: str = "",
    consent: dict[str, ConsentState] | None = None,
) -> None:
    """Fold one call into the profile. Trait values are JSON text."""
    key = count_key(call_type, event_name)
    profile.event_counts[key] = profile.event_counts.get(key, 0) + 1
    if not profile.first_seen or timestamp < profile.first_seen:
        profile.first_seen = timestamp
    profile.last_seen = max(profile.last_seen, timestamp)
    provenance = TraitValue("", source_id, event_id, timestamp, subject, call_type)
    set_traits(profile.traits, traits, provenance)
    if group_id:
        set_traits(profile.accounts.setdefault(group_id, {}), group_traits or {}, provenance)
    fold_consent(profile.consent, consent or {})


def merge(survivor: ProfileState, merged: ProfileState) -> None:
    """Fold the merged person's profile into the survivor's."""
    absorb(survivor, merged)
    survivor.merged_person_ids = sorted({*survivor.merged_person_ids, merged.person_id, *merged.merged_person_ids})


def absorb(survivor: ProfileState, merged: ProfileState) -> None:
    """Fold what another profile (or a partial) knows into this one; who was merged is left alone."""
    for name, value in merged.traits.items():
        if value.newer_than(survivor.traits.get(name)):
            survivor.traits[name] = value
    for key, count in merged.event_counts.items():
        survivor.event_counts[key] = survivor.event_counts.get(key, 0) + count
    for group_id, traits in merged.accounts.items():
        target = survivor.accounts.setdefault(group_id, {})
        for name, value in traits.items():
            if value.newer_than(target.get(name)):
                target[name] = value
    if merged.first_seen and (not survivor.first_seen or merged.first_seen < survivor.first_seen):
        survivor.first_seen = merged.first_seen
    survivor.last_seen = max(survivor.last_seen, merged.last_seen)
    fold_consent(survivor.consent, merged.consent)


def erase(profile: ProfileState, personal: Callable[[TraitValue], bool]) -> bool:
    """Forget the profile's personal values (their keys are gone); what they were stays unknown."""
    changed = False
    for traits in [profile.traits, *profile.accounts.values()]:
        for name, value in list(traits.items()):
            if personal(value) and not value.erased:
                traits[name] = replace(value, value="null", erased=True)
                changed = True
    return changed


Key = tuple[str, str]  # ("user_id", x) or ("anonymous_id", y)
# What a profile held before profiles were kept per key, kept whole under a key of its person's own:
# it goes with the person when merged, and stays with the person's id when split.
EARLIER = "person_id"


def earlier_key(person_id: str) -> Key:
    return (EARLIER, person_id)


def key_of(user_id: str, anonymous_id: str) -> Key:
    """The key a call's facts are kept under: its user id, else its anonymous id."""
    return ("user_id", user_id) if user_id else ("anonymous_id", anonymous_id)


def fold(person_id: str, partials: Iterable[ProfileState], merged_person_ids: Iterable[str] = ()) -> ProfileState:
    """A person's profile: the fold of the partials of its keys."""
    profile = ProfileState(person_id)
    for partial in partials:
        absorb(profile, partial)
    profile.merged_person_ids = sorted(merged_person_ids)
    return profile


@dataclass
class Profiles:
    """Every key's partial and person, the merges still standing, and each person's profile.

    Only keys that calls have been seen for are kept (a key identity names but no call has used has
    nothing to fold). Each operation returns the keys whose partial or person it changed and the
    persons whose profile it changed, so that the application writes one event per each.
    """

    partials: dict[Key, ProfileState] = field(default_factory=dict)
    owner: dict[Key, str] = field(default_factory=dict)
    keys: dict[str, set[Key]] = field(default_factory=dict)
    # survivor -> the persons merged straight into it and not split off since (a tree: a merged
    # person keeps its own merged persons under it, so a split that restores it restores them).
    absorbed: dict[str, set[str]] = field(default_factory=dict)
    into: dict[str, str] = field(default_factory=dict)  # merged person -> the person it is merged into
    # The fold of each person's partials, kept once built; dropped when its keys change.
    _profiles: dict[str, ProfileState] = field(default_factory=dict)

    def is_merged(self, person_id: str) -> bool:
        """Whether the person is merged into another (and not split off since): it has no profile."""
        return person_id in self.into

    def person_of(self, key: Key) -> str:
        return self.owner.get(key, "")

    def keys_of(self, person_id: str) -> set[Key]:
        return {k for k in self.keys.get(person_id, ()) if k[0] != EARLIER}

    def sole_key(self, person_id: str) -> Key | None:
        """The person's key when it has just one: its profile is then that key's partial."""
        keys = self.keys.get(person_id, ())
        return next(iter(keys)) if len(keys) == 1 else None

    def adopt(self, snapshot: ProfileState) -> None:
        """Take what a recorded profile says of its person's partials where the profile is all there
        is of them: the partial of its only key (written with the profile alone), or, for a profile
        recorded before partials were (no key of a call behind it), of its person's own key."""
        person_id = snapshot.person_id
        key = self.sole_key(person_id)
        if key is None and not self.keys.get(person_id):
            if not (snapshot.event_counts or snapshot.traits or snapshot.accounts):
                return
            key = earlier_key(person_id)
        if key is None:
            return
        partial = ProfileState("")
        absorb(partial, snapshot)
        self.put(key, person_id, partial)

    def profile(self, person_id: str) -> ProfileState:
        profile = self._profiles.get(person_id)
        if profile is None:
            keys = sorted(self.keys.get(person_id, ()))
            profile = fold(person_id, (self.partials[k] for k in keys))
            self._profiles[person_id] = profile
        profile.merged_person_ids = self.merged_person_ids(person_id)  # the merges are not cached
        return profile

    def merged_person_ids(self, person_id: str) -> list[str]:
        seen: set[str] = set()
        todo = list(self.absorbed.get(person_id, ()))
        while todo:
            merged = todo.pop()
            if merged not in seen and merged != person_id:
                seen.add(merged)
                todo.extend(self.absorbed.get(merged, ()))
        return sorted(seen)

    def put(self, key: Key, person_id: str, partial: ProfileState) -> None:
        """Set a key's partial and person as they are (replaying what was recorded)."""
        self.assign(key, person_id)
        self.partials[key] = partial
        self._profiles.pop(person_id, None)

    def assign(self, key: Key, person_id: str) -> str | None:
        """Give the key to the person; returns the person it leaves (None: no change)."""
        before = self.owner.get(key)
        if before == person_id:
            return None
        if before is not None:
            self.keys[before].discard(key)
            if not self.keys[before]:
                del self.keys[before]
            self._profiles.pop(before, None)
        self.owner[key] = person_id
        self.keys.setdefault(person_id, set()).add(key)
        self._profiles.pop(person_id, None)
        return before or ""

    def observe(self, key: Key, person_id: str, **call: Any) -> set[str]:
        """Fold one call (the arguments of observe()) into its key's partial, the key being the
        person's (as identity answered); returns the persons whose profile changed."""
        changed = {person_id}
        left = self.assign(key, person_id)
        if left:
            changed.add(left)
        partial = self.partials.setdefault(key, ProfileState(""))
        observe(partial, **call)
        profile = self._profiles.get(person_id)
        if profile is not None:
            observe(profile, **call)  # the fold is order-independent: the same as folding again
        return changed

    def move(self, keys: Iterable[Key], person_id: str) -> tuple[set[Key], set[str]]:
        """Give the keys (those with a partial) to the person; returns the keys moved and the
        persons they left."""
        moved: set[Key] = set()
        left: set[str] = set()
        for key in keys:
            if key not in self.partials:
                continue
            before = self.assign(key, person_id)
            if before is not None:
                moved.add(key)
                if before:
                    left.add(before)
        return moved, left

    def merge(self, survivor_id: str, merged_id: str, keys: Iterable[Key]) -> tuple[set[Key], set[str]]:
        """The merged person's keys (those named) are the survivor's now, and the merged person
        is listed by the survivor; returns the keys moved and the persons whose profile changed."""
        moved, left = self.move([k for k in keys if k[0] != EARLIER], survivor_id)
        if merged_id != survivor_id:
            earlier = self._take(earlier_key(merged_id))
            if earlier is not None:  # what the merged person's profile held before partials were
                into = self.partials.get(earlier_key(survivor_id)) or ProfileState("")
                absorb(into, earlier)
                self.put(earlier_key(survivor_id), survivor_id, into)
                moved.add(earlier_key(survivor_id))
            self._detach(merged_id)
            self.absorbed.setdefault(survivor_id, set()).add(merged_id)
            self.into[merged_id] = survivor_id
        return moved, left | {survivor_id}

    def split(self, person_id: str, parts: Iterable[tuple[str, Iterable[Key]]]) -> tuple[set[Key], set[str]]:
        """Each part's keys are its person's now (keys no part names stay where they are); a part
        that had been merged into the person is not listed by it any more. Returns the keys moved
        and the persons whose profile changed: the person and every part, at least."""
        moved: set[Key] = set()
        changed = {person_id}
        for part_id, keys in parts:
            changed.add(part_id)
            part_moved, left = self.move(keys, part_id)
            moved |= part_moved
            changed |= left
            if part_id != person_id:
                self._detach(part_id)
        return moved, changed

    def _take(self, key: Key) -> ProfileState | None:
        """Remove the key; returns its partial."""
        partial = self.partials.pop(key, None)
        person_id = self.owner.pop(key, None)
        if person_id is not None:
            self.keys[person_id].discard(key)
            if not self.keys[person_id]:
                del self.keys[person_id]
            self._profiles.pop(person_id, None)
        return partial

    def _detach(self, person_id: str) -> None:
        """The person is merged into no one any more (its own merged persons stay under it)."""
        survivor = self.into.pop(person_id, None)
        if survivor is not None:
            self.absorbed[survivor].discard(person_id)
            if not self.absorbed[survivor]:
                del self.absorbed[survivor]

    def erase(self, person_id: str, personal: Callable[[TraitValue], bool]) -> set[Key]:
        """Forget the personal values of the person's partials; returns the keys whose partial changed."""
        erased = {k for k in sorted(self.keys.get(person_id, ())) if erase(self.partials[k], personal)}
        if erased:
            self._profiles.pop(person_id, None)
        return erased
