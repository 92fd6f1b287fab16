"""Comparison kinds: the levels a pair of values can agree at, computed for many pairs at once.

Values live in columns (one per matching field, indexed by record slot). A column keeps, besides the
normalised strings, integer codes of the values so that exact agreement, nulls and term frequencies are numpy
operations, and a few derived codes a kind needs (the value without spaces, a date's year and month-day).

Level 0 is the strongest agreement, the last level is "else"; a pair with a null on either side is at level -1
and carries no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

NULL = -1
IntArray = NDArray[np.int64]
LevelArray = NDArray[np.int8]

KINDS = ("name", "text", "date", "code", "exact")
LEVELS: dict[str, tuple[str, ...]] = {
    "name": ("exact", "exact without spaces", "jaro-winkler >= 0.92", "jaro-winkler >= 0.80", "else"),
    "text": ("exact", "exact without spaces", "jaro-winkler >= 0.92", "jaro-winkler >= 0.80", "else"),
    "code": ("exact", "levenshtein <= 1", "levenshtein <= 2", "else"),
    "date": ("exact", "1 edit", "2 edits or day-month swap", "same year or same month-day", "else"),
    "exact": ("exact", "else"),
}
# Kinds whose exact agreement is weighed by how common the value is.
TERM_FREQUENCY_KINDS = frozenset({"name", "text"})


class Vocabulary:
    """Integer codes for strings, with how many live records hold each."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.counts = np.zeros(64, dtype=np.int64)

    def code(self, value: str | None) -> int:
        if value is None:
            return NULL
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.codes)
            if code >= len(self.counts):
                self.counts = np.concatenate([self.counts, np.zeros(len(self.counts), dtype=np.int64)])
        return code


def _grow(array: IntArray, size: int) -> IntArray:
    if size <= len(array):
        return array
    grown = np.full(max(size, 2 * len(array)), NULL, dtype=np.int64)
    grown[: len(array)] = array
    return grown


class Column:
    """One matching field's values, by record slot."""

    def __init__(self, kind: str) -> None:
        if kind not in LEVELS:
            raise ValueError(f"unknown comparison kind {kind!r}; one of {', '.join(KINDS)}")
        self.kind = kind
        self.values: NDArray[np.object_] = np.full(64, "", dtype=object)  # "" where null
        self.vocabulary = Vocabulary()
        self.code: IntArray = np.full(64, NULL, dtype=np.int64)
        self.non_null = 0  # live records with a value
        self._spaceless = Vocabulary() if kind in ("name", "text") else None
        self.spaceless: IntArray = np.full(64, NULL, dtype=np.int64)
        self.year: IntArray = np.full(64, NULL, dtype=np.int64)
        self.month_day: IntArray = np.full(64, NULL, dtype=np.int64)
        self.day_month: IntArray = np.full(64, NULL, dtype=np.int64)

    def set(self, slot: int, value: str | None) -> None:
        """Store a (normalised) value at a slot, replacing what was there."""
        self.clear(slot)
        self._reserve(slot + 1)
        self.values[slot] = value or ""
        code = self.vocabulary.code(value)
        self.code[slot] = code
        if value is None:
            return
        self.vocabulary.counts[code] += 1
        self.non_null += 1
        if self._spaceless is not None:
            self.spaceless[slot] = self._spaceless.code(value.replace(" ", ""))
        if self.kind == "date" and len(value) == 8:
            self.year[slot] = int(value[:4])
            self.month_day[slot] = int(value[4:])
            self.day_month[slot] = int(value[6:] + value[4:6])

    def _reserve(self, size: int) -> None:
        if len(self.code) < size:
            values = np.full(max(size, 2 * len(self.values)), "", dtype=object)
            values[: len(self.values)] = self.values
            self.values = values
            self.code = _grow(self.code, size)
            self.spaceless = _grow(self.spaceless, size)
            self.year = _grow(self.year, size)
            self.month_day = _grow(self.month_day, size)
            self.day_month = _grow(self.day_month, size)

    def clear(self, slot: int) -> None:
        """Forget the value at a slot (and its share of the term frequencies)."""
        if slot >= len(self.code) or self.code[slot] == NULL:
            return
        self.vocabulary.counts[self.code[slot]] -= 1
        self.non_null -= 1
        self.values[slot] = ""
        self.code[slot] = NULL
        for derived in (self.spaceless, self.year, self.month_day, self.day_month):
            if slot < len(derived):
                derived[slot] = NULL

    def term_frequency(self, codes: IntArray) -> NDArray[np.float64]:
        """The share of live records holding each value (at least one record's share)."""
        total = max(self.non_null, 1)
        counts = np.maximum(self.vocabulary.counts[codes], 1)
        return np.asarray(counts / total, dtype=np.float64)

    def levels(self, a: IntArray, b: IntArray) -> LevelArray:
        """The comparison level of each pair of slots (a[i], b[i])."""
        code_a, code_b = self.code[a], self.code[b]
        null = (code_a == NULL) | (code_b == NULL)
        exact = (code_a == code_b) & ~null
        out = np.full(len(a), len(LEVELS[self.kind]) - 1, dtype=np.int8)
        rest = np.flatnonzero(~null & ~exact)
        if len(rest):
            out[rest] = self._partial(a[rest], b[rest])
        out[exact] = 0
        out[null] = NULL
        return out

    def level_counts(self, a: IntArray, b: IntArray, partial: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """How many pairs (a[i], b[i]) are at each non-null level, for many pairs: nulls and exact agreement
        are counted on every pair, the similarity levels on at most `partial` of the other pairs and scaled."""
        code_a, code_b = self.code[a], self.code[b]
        null = (code_a == NULL) | (code_b == NULL)
        exact = (code_a == code_b) & ~null
        size = len(LEVELS[self.kind])
        counts = np.zeros(size, dtype=np.float64)
        counts[0] = exact.sum()
        rest = np.flatnonzero(~null & ~exact)
        if len(rest) > partial:
            sample = rng.choice(rest, size=partial, replace=False)
            levels = self._partial(a[sample], b[sample])
            counts += np.bincount(levels, minlength=size) * (len(rest) / partial)
        elif len(rest):
            counts += np.bincount(self._partial(a[rest], b[rest]), minlength=size)
        return counts

    def _strings(self, slots: IntArray) -> NDArray[np.object_]:
        return self.values[slots]

    def _partial(self, a: IntArray, b: IntArray) -> LevelArray:
        """Levels of pairs that are neither null nor exactly equal."""
        kind = self.kind
        if kind == "exact":
            return np.ones(len(a), dtype=np.int8)
        workers = -1 if len(a) > 50_000 else 1
        if kind in ("name", "text"):
            similarity = cpdist(
                self._strings(a), self._strings(b), scorer=JaroWinkler.normalized_similarity, workers=workers
            )
            spaceless = self.spaceless[a] == self.spaceless[b]
            return np.select([spaceless, similarity >= 0.92, similarity >= 0.80], [1, 2, 3], 4).astype(np.int8)
        distance = cpdist(
            self._strings(a), self._strings(b), scorer=Levenshtein.distance, score_cutoff=2, workers=workers
        )
        if kind == "code":
            return np.select([distance <= 1, distance <= 2], [1, 2], 3).astype(np.int8)
        year_a, year_b = self.year[a], self.year[b]
        dated = (year_a != NULL) & (year_b != NULL)
        same_year = dated & (year_a == year_b)
        swapped = same_year & (self.month_day[a] == self.day_month[b])
        same_month_day = dated & (self.month_day[a] == self.month_day[b])
        return np.select([distance <= 1, (distance <= 2) | swapped, same_year | same_month_day], [1, 2, 3], 4).astype(
            np.int8
        )


@dataclass(frozen=True)
class Comparison:
    """A matching field and how it is compared."""

    field: str
    kind: str

    @property
    def labels(self) -> tuple[str, ...]:
        return LEVELS[self.kind]

    @property
    def term_frequencies(self) -> bool:
        return self.kind in TERM_FREQUENCY_KINDS


def level_counts(levels: LevelArray, count: int, weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """How many (or how much weight of the) pairs are at each non-null level."""
    keep = levels >= 0
    w = None if weights is None else weights[keep]
    return np.bincount(levels[keep].astype(np.int64), weights=w, minlength=count).astype(np.float64)
