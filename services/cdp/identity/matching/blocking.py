"""The inverted blocking index: a key per blocking rule and record, and the records under each key."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from numpy.typing import NDArray

Key = tuple[object, ...]  # (rule number, value, value, ...)
IntArray = NDArray[np.int64]


@cache
def _upper_pairs(n: int) -> tuple[IntArray, IntArray]:
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


class BlockingIndex:
    def __init__(self, rules: Sequence[Sequence[int]]) -> None:
        self.rules = [tuple(rule) for rule in rules]
        self.postings: dict[Key, set[int]] = {}
        self._keys: dict[int, list[Key]] = {}

    def keys_of(self, values: Sequence[str | None]) -> list[Key]:
        """A record's keys: one per rule whose fields all have a value."""
        keys: list[Key] = []
        for number, rule in enumerate(self.rules):
            parts = [values[i] for i in rule]
            if all(p is not None for p in parts):
                keys.append((number, *parts))
        return keys

    def add(self, slot: int, keys: list[Key], max_postings: int) -> set[int]:
        """Index a record; returns the records already under its keys, skipping every key that holds more than
        max_postings records with this one (as `pairs` does)."""
        found: set[int] = set()
        for key in keys:
            posting = self.postings.get(key)
            if posting is None:
                self.postings[key] = {slot}
                continue
            if len(posting) < max_postings:
                found |= posting
            posting.add(slot)
        self._keys[slot] = keys
        return found

    def remove(self, slot: int) -> None:
        for key in self._keys.pop(slot, []):
            posting = self.postings[key]
            posting.discard(slot)
            if not posting:
                del self.postings[key]

    def pairs(self, max_postings: int) -> tuple[IntArray, IntArray, IntArray]:
        """Every pair sharing a key with at most max_postings records: (a, b, rules) with a < b, each pair once,
        rules a bit mask of the blocking rules that generate it."""
        firsts: list[IntArray] = []
        seconds: list[IntArray] = []
        numbers: list[IntArray] = []
        for key, posting in self.postings.items():
            n = len(posting)
            if n < 2 or n > max_postings:
                continue
            slots = np.fromiter(posting, dtype=np.int64, count=n)
            slots.sort()
            i, j = _upper_pairs(n)
            firsts.append(slots[i])
            seconds.append(slots[j])
            numbers.append(np.full(len(i), key[0], dtype=np.int64))
        if not firsts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        a, b, rule = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(numbers)
        unique, inverse = np.unique(a * (int(b.max()) + 1) + b, return_inverse=True)
        mask = np.zeros(len(unique), dtype=np.int64)
        np.bitwise_or.at(mask, inverse, np.left_shift(1, rule))
        first = np.zeros(len(unique), dtype=np.int64)
        second = np.zeros(len(unique), dtype=np.int64)
        first[inverse], second[inverse] = a, b
        return first, second, mask
