"""Cached truth values: audiences compiled to plans whose leaves have slots, each subject's answer
per slot kept until a change of what it reads or its own time edge.

A leaf's cached (value, edge) holds while now < edge (None: until a change). Inverted indexes from
what a leaf reads (a trait, an event count, an event predicate, an audience's membership, an
account trait) to its slots let a change forget only those, and give the audiences to re-evaluate:
the cost of a change is the leaves it touches, not the audiences a person is in.

Account conditions are cached per account (slot under the account) and, in a person-level audience,
per person (the answer over the person's accounts). A change of a member's leaf inside a quantifier
forgets that quantifier for each account of the member, and for their members in turn; a person
joining or leaving an account forgets the account's quantifiers and the person's account conditions.
The answers are engine.evaluate()'s, leaf for leaf (see test_account_audiences_equivalence).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from cdp.segment import engine
from cdp.segment.accounts import account_subject
from cdp.segment.language import All, Any_, Event, Funnel, InAudience, Node, Not, Predicate, Quantified
from cdp.segment.leaves import AccountTrait, EventCondition, TraitCondition

ORDERED = ("gt", "gte", "lt", "lte")
ALL, ANY, NOT, TRAIT, COUNT, EVENT, FUNNEL, AUDIENCE, ACCOUNT_TRAIT, QUANTIFIER = range(10)
Truth = tuple[bool, datetime | None]
TRUE: Truth = engine.HOLDS
FALSE: Truth = engine.FAILS
Work = dict[str, set[str] | None]  # subject -> the audiences to re-evaluate (None: all of its level)


class Reads(Protocol):
    """What leaves read of a subject (persons and accounts by their own ids)."""

    def trait(self, person: str, name: str) -> Any: ...
    def count(self, person: str, event: str) -> int: ...
    def facts(self, person: str, predicate: Predicate) -> engine.Facts: ...
    def member(self, subject_id: str, audience_id: str) -> bool: ...
    def account_trait(self, account: str, name: str) -> Any: ...
    def accounts_of(self, person: str) -> Iterable[str]: ...
    def members_of(self, account: str) -> Iterable[str]: ...


class Plan:
    __slots__ = ("items", "key", "kind", "node", "slot")

    def __init__(self, kind: int, slot: int, node: Any, items: tuple[Plan, ...] = (), key: Any = None):
        self.kind, self.slot, self.node, self.items, self.key = kind, slot, node, items, key


def _add(work: Work, subject: str, audience_id: str) -> None:
    audiences = work.setdefault(subject, set())
    if audiences is not None:
        audiences.add(audience_id)


def _drop(index: dict[Any, list[int]], owner: list[str], audience_id: str) -> None:
    """An audience's slots out of an index (names left with no slot go too)."""
    for key, slots in list(index.items()):
        kept = [s for s in slots if owner[s] != audience_id]
        if not kept:
            del index[key]
        elif len(kept) != len(slots):
            index[key] = kept


def _decided(root: Plan, slot: int, cache: dict[int, Truth], now: datetime) -> bool:
    """Whether another item of an all (any) holds a valid answer false (true) in the cache: the
    root's answer does not depend on the item at slot then."""
    decisive = root.kind == ANY
    for item in root.items:
        negated = item.kind == NOT
        inner = item.items[0] if negated else item
        if inner.slot == slot or inner.kind < TRAIT:
            continue
        hit = cache.get(inner.slot)
        if hit is not None and (hit[1] is None or now < hit[1]) and (hit[0] != negated) == decisive:
            return True
    return False


class Truths:
    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.level: dict[str, str] = {}
        self.owner: list[str] = []  # slot -> its audience
        self.by_trait: dict[str, list[int]] = {}  # person traits
        # Of those, the numeric thresholds (gt, gte, lt, lte of a number), sorted, and the others: a
        # trait going from a to b can flip only the thresholds between a and b.
        self.thresholds: dict[str, tuple[list[float], list[int]]] = {}
        self.unthresholded: dict[str, list[int]] = {}
        self.by_count: dict[str, list[int]] = {}  # the first form's event counts
        self.by_predicate: dict[Predicate, list[int]] = {}
        self.by_audience: dict[str, list[int]] = {}  # audience -> slots read for persons
        self.by_audience_of_account: dict[str, list[int]] = {}  # ... read for accounts
        self.by_account_trait: dict[str, list[int]] = {}
        self.quantifier_of: dict[int, int] = {}  # slot inside a quantifier -> the quantifier's slot
        self.quantifiers: list[int] = []
        self.leaves: dict[int, Plan] = {}  # leaves answered again as soon as what they read changes
        self.sealed: set[str] = set()  # audiences with sealed literals: their leaves are answered lazily
        self.roots: dict[int, Plan] = {}  # a leaf right under an audience's all/any -> that root
        self.account_conditions: list[int] = []  # of person-level audiences (answered per person too)
        self.persons: dict[str, dict[int, Truth]] = {}
        self.accounts: dict[str, dict[int, Truth]] = {}

    # Compiling ------------------------------------------------------------------------------

    def register(self, audience_id: str, root: Node, level: str, sealed: bool = False) -> None:
        """sealed: the stored tree has sealed literals (its leaves are answered with them opened)."""
        self.level[audience_id] = level
        if sealed:
            self.sealed.add(audience_id)
        plan = self.plans[audience_id] = self._compile(root, audience_id, level, None)
        if plan.kind in (ALL, ANY) and level == "person":
            for item in plan.items:
                if item.slot in self.leaves:
                    self.roots[item.slot] = plan

    def _slot(self, audience_id: str) -> int:
        self.owner.append(audience_id)
        return len(self.owner) - 1

    def unregister(self, audience_id: str) -> None:
        """Drop an audience's plan (a version replaced, or archived): its slots leave every index
        and every cache, so a change reads nothing of it and no answer of it is kept. Slots are not
        given again: a new version compiles into new ones."""
        if self.plans.pop(audience_id, None) is None:
            return
        del self.level[audience_id]
        self.sealed.discard(audience_id)
        owner = self.owner
        for index in (
            self.by_trait,
            self.unthresholded,
            self.by_count,
            self.by_predicate,
            self.by_audience,
            self.by_audience_of_account,
            self.by_account_trait,
        ):
            _drop(index, owner, audience_id)
        for trait, (values, slots) in list(self.thresholds.items()):
            kept = [(v, s) for v, s in zip(values, slots, strict=True) if owner[s] != audience_id]
            if kept:
                self.thresholds[trait] = ([v for v, _ in kept], [s for _, s in kept])
            else:
                del self.thresholds[trait]
        self.quantifiers = [s for s in self.quantifiers if owner[s] != audience_id]
        self.account_conditions = [s for s in self.account_conditions if owner[s] != audience_id]
        for slots_of in (self.quantifier_of, self.leaves, self.roots):
            for slot in [s for s in slots_of if owner[s] == audience_id]:
                del slots_of[slot]
        for caches in (self.persons, self.accounts):
            for cache in caches.values():
                for slot in [s for s in cache if owner[s] == audience_id]:
                    del cache[slot]

    def _compile(self, node: Any, audience_id: str, level: str, quantifier: int | None) -> Plan:
        plan = self._compiled(node, audience_id, level, quantifier)
        if plan.kind in (TRAIT, COUNT, EVENT, FUNNEL, AUDIENCE) and audience_id not in self.sealed:
            self.leaves[plan.slot] = plan
        return plan

    def _compiled(self, node: Any, audience_id: str, level: str, quantifier: int | None) -> Plan:
        slot = self._slot(audience_id)
        if quantifier is not None:
            self.quantifier_of[slot] = quantifier
        on_account = level == "account" and quantifier is None
        if isinstance(node, All | Any_):
            items = tuple(self._compile(x, audience_id, level, quantifier) for x in node.items)
            return Plan(ALL if isinstance(node, All) else ANY, slot, node, items)
        if isinstance(node, Not):
            return Plan(NOT, slot, node, (self._compile(node.item, audience_id, level, quantifier),))
        if isinstance(node, Quantified):
            self.quantifiers.append(slot)
            if level == "person":
                self.account_conditions.append(slot)
            return Plan(QUANTIFIER, slot, node, (self._compile(node.member, audience_id, level, slot),))
        if isinstance(node, AccountTrait):
            self.by_account_trait.setdefault(node.trait, []).append(slot)
            if level == "person":
                self.account_conditions.append(slot)
            return Plan(ACCOUNT_TRAIT, slot, node, key=engine.tester(node))
        if isinstance(node, TraitCondition):
            self.by_trait.setdefault(node.trait, []).append(slot)
            value = node.value
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if node.op in ORDERED and numeric and audience_id not in self.sealed:
                values, slots = self.thresholds.setdefault(node.trait, ([], []))
                at = bisect.bisect_right(values, value)
                values.insert(at, value)
                slots.insert(at, slot)
                return Plan(TRAIT, slot, node, key=engine.tester(node))
            self.unthresholded.setdefault(node.trait, []).append(slot)
            return Plan(TRAIT, slot, node, key=engine.tester(node))
        if isinstance(node, EventCondition):
            self.by_count.setdefault(node.event, []).append(slot)
            return Plan(COUNT, slot, node)
        if isinstance(node, Event):
            self.by_predicate.setdefault(node.predicate(), []).append(slot)
            return Plan(EVENT, slot, node, key=node.predicate())
        if isinstance(node, Funnel):
            keys = tuple(s.predicate() for s in node.steps)
            for key in dict.fromkeys(keys):
                self.by_predicate.setdefault(key, []).append(slot)
            return Plan(FUNNEL, slot, node, key=keys)
        assert isinstance(node, InAudience)
        index = self.by_audience_of_account if on_account else self.by_audience
        index.setdefault(node.audience_id, []).append(slot)
        return Plan(AUDIENCE, slot, node, key=node.audience_id)

    def flippable(self, trait: str, before: float, after: float) -> list[int]:
        """The slots of the trait's leaves a change of its value from before to after may flip."""
        others = self.unthresholded.get(trait, [])
        found = self.thresholds.get(trait)
        if found is None:
            return others
        values, slots = found
        lo, hi = (before, after) if before <= after else (after, before)
        return [*slots[bisect.bisect_left(values, lo) : bisect.bisect_right(values, hi)], *others]

    @staticmethod
    def opened_leaves(plan: Plan, opened: Node, out: dict[int, Any]) -> dict[int, Any]:
        """The leaves of an opened copy of a plan's tree (literals in clear), by slot: to evaluate
        and drop (plans keep the stored, sealed leaves)."""
        if plan.kind in (ALL, ANY):
            assert isinstance(opened, All | Any_)
            for p, n in zip(plan.items, opened.items, strict=True):
                Truths.opened_leaves(p, n, out)
        elif plan.kind == NOT:
            assert isinstance(opened, Not)
            Truths.opened_leaves(plan.items[0], opened.item, out)
        elif plan.kind == QUANTIFIER:
            assert isinstance(opened, Quantified)
            Truths.opened_leaves(plan.items[0], opened.member, out)
        else:
            out[plan.slot] = opened
        return out

    # Answering ------------------------------------------------------------------------------

    def evaluate(
        self, audience_id: str, subject: str, account: bool, now: datetime, reads: Reads, opened: Mapping[int, Any]
    ) -> Truth:
        """The audience's answer for a person (or an account) now, and its next time edge."""
        caches = self.accounts if account else self.persons
        cache = caches.get(subject)
        if cache is None:
            cache = caches[subject] = {}
        return self._truth(self.plans[audience_id], subject, account, now, reads, opened, cache)

    def cache_of(self, subject: str, account: bool) -> dict[int, Truth]:
        caches = self.accounts if account else self.persons
        cache = caches.get(subject)
        if cache is None:
            cache = caches[subject] = {}
        return cache

    def answer(
        self, audience_id: str, subject: str, account: bool, now: datetime, reads: Reads, cache: dict[int, Truth]
    ) -> Truth:
        """evaluate(), for an audience with nothing to open, with the subject's cache_of()."""
        return self._truth(self.plans[audience_id], subject, account, now, reads, {}, cache)

    def _truth(
        self,
        p: Plan,
        s: str,
        account: bool,
        now: datetime,
        reads: Reads,
        opened: Mapping[int, Any],
        cache: dict[int, Truth],
    ) -> Truth:
        kind = p.kind
        if kind in (ALL, ANY):
            edge = None
            every, some = True, False  # every item is evaluated: each may give a time edge
            for item in p.items:
                hit = cache.get(item.slot) if item.kind >= TRAIT else None  # a leaf answered before
                if hit is None or (hit[1] is not None and now >= hit[1]):
                    hit = self._truth(item, s, account, now, reads, opened, cache)
                value, e = hit
                if e is not None and (edge is None or e < edge):
                    edge = e
                if value:
                    some = True
                else:
                    every = False
            return (every if kind == ALL else some), edge
        if kind == NOT:
            value, e = self._truth(p.items[0], s, account, now, reads, opened, cache)
            return not value, e
        hit = cache.get(p.slot)
        if hit is not None and (hit[1] is None or now < hit[1]):
            return hit
        out = self._leaf(p, s, account, now, reads, opened)
        cache[p.slot] = out
        return out

    def _cached(self, p: Plan, s: str, account: bool, now: datetime, reads: Reads, opened: Mapping[int, Any]) -> Truth:
        """A plan's answer for another subject (an account of a person, a member of an account)."""
        caches = self.accounts if account else self.persons
        cache = caches.get(s)
        if cache is None:
            cache = caches[s] = {}
        return self._truth(p, s, account, now, reads, opened, cache)

    def _leaf(self, p: Plan, s: str, account: bool, now: datetime, reads: Reads, opened: Mapping[int, Any]) -> Truth:
        kind = p.kind
        node = opened.get(p.slot) if opened else None
        if node is None:
            node = p.node
            if kind == TRAIT:
                return p.key(reads.trait(s, node.trait), now)
            if kind == ACCOUNT_TRAIT and account:
                return p.key(reads.account_trait(s, node.trait), now)
        if kind == TRAIT:
            out = engine.compare(node, reads.trait(s, node.trait), now)
        elif kind == EVENT:
            out = engine.holds_event(node, reads.facts(s, p.key), now)
        elif kind == COUNT:
            out = TRUE if reads.count(s, node.event) >= node.min_count else FALSE
        elif kind == FUNNEL:
            out = engine.holds_funnel(node, [reads.facts(s, k) for k in p.key], now)
        elif kind == AUDIENCE:
            out = TRUE if reads.member(s, p.key) else FALSE
        elif not account:  # an account condition of a person: in some account of theirs
            result, edge = False, None
            for a in reads.accounts_of(s):
                value, e = self._cached(p, a, True, now, reads, opened)
                result = result or value
                if e is not None and (edge is None or e < edge):
                    edge = e
            out = (result, edge)
        elif kind == ACCOUNT_TRAIT:
            out = engine.compare(node, reads.account_trait(s, node.trait), now)
        else:
            out = self._quantified(p, node.quantifier, s, now, reads, opened)
        if out[1] is None:
            return TRUE if out[0] else FALSE
        return out

    def _quantified(
        self, p: Plan, quantifier: str, account: str, now: datetime, reads: Reads, opened: Mapping[int, Any]
    ) -> Truth:
        members = satisfied = 0
        edge = None
        for m in reads.members_of(account):
            value, e = self._cached(p.items[0], m, False, now, reads, opened)
            members += 1
            satisfied += value
            if e is not None and (edge is None or e < edge):
                edge = e
        if quantifier == "any":
            return satisfied > 0, edge
        if quantifier == "all":
            return members > 0 and satisfied == members, edge
        return satisfied == 0, edge

    # Forgetting -----------------------------------------------------------------------------

    def forget(self, work: Work, person: str, slots: Iterable[int], reads: Reads, now: datetime | None = None) -> None:
        """What a person's leaves at these slots read changed: forget their answers, and note what
        reads them. With now, a leaf answered before is answered again at once, and only a changed
        answer (or time edge) goes further: a change re-evaluates only the audiences it flips."""
        cache = self.persons.get(person)
        quantifiers: set[int] = set()
        leaves, quantifier_of, owner = self.leaves, self.quantifier_of, self.owner
        mine: set[str] | None = None
        for slot in slots:
            if cache is not None:
                old = cache.get(slot)
                leaf = leaves.get(slot) if old is not None else None
                if leaf is None or now is None:
                    cache.pop(slot, None)
                else:
                    if leaf.kind == TRAIT:
                        new = cache[slot] = leaf.key(reads.trait(person, leaf.node.trait), now)
                    else:
                        new = cache[slot] = self._leaf(leaf, person, False, now, reads, {})
                    if new == old:
                        continue
                    root = self.roots.get(slot)
                    timeless = old is not None and old[1] is None and new[1] is None
                    if root is not None and timeless and _decided(root, slot, cache, now):
                        continue  # another item of the audience's all (any) is false (true): it stands
            q = quantifier_of.get(slot)
            if q is None:
                if mine is None:
                    mine = work.setdefault(person, set())
                if mine is not None:  # (None: every audience of the person already)
                    mine.add(owner[slot])
            else:
                quantifiers.add(q)
        if quantifiers:
            for a in reads.accounts_of(person):
                self.forget_account(work, a, quantifiers, reads)

    def forget_account(self, work: Work, account: str, slots: Iterable[int], reads: Reads) -> None:
        """An account's answers at these slots changed: its own, and its members' (person-level)."""
        cache = self.accounts.get(account)
        of_persons = []
        for slot in slots:
            if cache is not None:
                cache.pop(slot, None)
            audience_id = self.owner[slot]
            if self.level[audience_id] == "account":
                _add(work, account_subject(account), audience_id)
            else:
                of_persons.append(slot)
        if of_persons:
            for m in reads.members_of(account):
                member_cache = self.persons.get(m)
                for slot in of_persons:
                    if member_cache is not None:
                        member_cache.pop(slot, None)
                    _add(work, m, self.owner[slot])

    def regrouped(self, work: Work, person: str, accounts: Iterable[str], reads: Reads) -> None:
        """The person joined or left these accounts."""
        cache = self.persons.get(person)
        for slot in self.account_conditions:
            if cache is not None:
                cache.pop(slot, None)
            _add(work, person, self.owner[slot])
        for a in accounts:
            self.forget_account(work, a, self.quantifiers, reads)

    def drop(self, work: Work, person: str, reads: Reads) -> None:
        """Forget everything of a person (its facts were rebuilt: a merge, a split, from scratch)."""
        self.persons.pop(person, None)
        if self.quantifiers:
            for a in reads.accounts_of(person):
                self.forget_account(work, a, self.quantifiers, reads)

    def drop_account(self, account: str) -> None:
        self.accounts.pop(account, None)
