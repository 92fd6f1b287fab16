"""The incremental probabilistic matcher: records in, scored candidates out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from cdp.identity.matching import training
from cdp.identity.matching.blocking import BlockingIndex
from cdp.identity.matching.clustering import one_to_one, single_best_links
from cdp.identity.matching.comparisons import Column, Comparison, LevelArray
from cdp.identity.matching.model import Model, probabilities, probability
from cdp.identity.matching.normalise import normalise
from cdp.identity.matching.settings import MatchSettings

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
# u of the similarity levels (Jaro-Winkler, Levenshtein) comes from at most this many, or a fifth, of the random
# pairs that are neither null nor exact: the rarer exact level is counted on every pair.
PARTIAL_PAIRS = 200_000


@dataclass(frozen=True, slots=True)
class Candidate:
    record_id: str  # the other record
    probability: float  # match probability 0..1
    weight: float  # match weight: log2 prior odds plus the log2 Bayes factor of every field
    levels: tuple[tuple[str, str, float], ...]  # (field, level label, log2 BF) per field


class Matcher:
    """Holds records (normalised values, blocking postings, term frequencies) and scores pairs of them.

    Not thread-safe: one writer at a time.
    """

    def __init__(self, settings: MatchSettings, model: Model | None = None) -> None:
        self.settings = settings
        self.comparisons = tuple(Comparison(name, kind) for name, kind in settings.fields.items())
        self._field_numbers = {c.field: i for i, c in enumerate(self.comparisons)}
        self._columns = [Column(c.kind) for c in self.comparisons]
        self._index = BlockingIndex([[self._field_numbers[f] for f in rule] for rule in settings.blocking])
        self._slots: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._source: IntArray = np.full(64, -1, dtype=np.int64)
        self._source_codes: dict[str, int] = {}
        self._source_names: list[str] = []
        self._model: Model | None = None
        self._tables: list[FloatArray] = []
        self._exact_log2_m: list[float] = []
        self._triples: list[NDArray[np.object_]] = []
        self._tf = [i for i, c in enumerate(self.comparisons) if c.term_frequencies]
        # Records change the generation; training leaves the levels of the blocked pairs for score_all.
        self._generation = 0
        self._blocked: tuple[int, IntArray, IntArray, IntArray, LevelArray] | None = None
        self.model = model

    # The model

    @property
    def model(self) -> Model | None:
        return self._model

    @model.setter
    def model(self, model: Model | None) -> None:
        if model is not None and model.comparisons != self.comparisons:
            raise ValueError("the model's comparisons are not these settings' fields and kinds")
        self._model = model
        self._tables = model.weight_tables() if model else []
        # Per comparison, the (field, level label, log2 BF) of each level, the last one for null.
        self._triples = []
        for comparison, table in zip(self.comparisons, self._tables, strict=False):
            triples = np.empty(len(table), dtype=object)
            triples[:] = [
                (comparison.field, label, float(factor))
                for label, factor in zip((*comparison.labels, "null"), table.tolist(), strict=True)
            ]
            self._triples.append(triples)
        self._exact_log2_m = model.exact_log2_m() if model else []

    def sources(self) -> int:
        """How many sources the records held come from."""
        return len({int(self._source[slot]) for slot in self._slots.values()})

    def set_one_per_source(self, value: bool) -> None:
        """Take the records of one source as distinct (link across sources only, one to one) or not."""
        if value != self.settings.one_per_source:
            self.settings = replace(self.settings, one_per_source=value)
            self._generation += 1  # the blocked pairs depend on it

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._slots

    def source_of(self, record_id: str) -> str | None:
        slot = self._slots.get(record_id)
        return None if slot is None else self._source_names[self._source[slot]]

    # Records

    def add(self, record_id: str, source: str, fields: Mapping[str, object]) -> list[Candidate]:
        """Hold a record (replacing one of the same id) and return the records it may match, best first.

        The candidates are the records sharing a blocking key with it (keys holding more than max_postings
        records are skipped), from other sources when one_per_source; none without a model.
        """
        if record_id in self._slots:
            self.remove(record_id)
        self._generation += 1
        slot = self._free.pop() if self._free else len(self._ids)
        if slot == len(self._ids):
            self._ids.append(record_id)
        else:
            self._ids[slot] = record_id
        self._slots[record_id] = slot
        if slot >= len(self._source):
            grown = np.full(2 * len(self._source), -1, dtype=np.int64)
            grown[: len(self._source)] = self._source
            self._source = grown
        code = self._source_codes.get(source)
        if code is None:
            code = self._source_codes[source] = len(self._source_names)
            self._source_names.append(source)
        self._source[slot] = code
        values = []
        for comparison, column in zip(self.comparisons, self._columns, strict=True):
            value = normalise(fields.get(comparison.field), comparison.kind)
            column.set(slot, value)
            values.append(value)
        found = self._index.add(slot, self._index.keys_of(values), self.settings.max_postings)
        if self._model is None or not found:
            return []
        others = np.fromiter(found, dtype=np.int64, count=len(found))
        if self.settings.one_per_source:
            others = others[self._source[others] != code]
        if not len(others):
            return []
        mine = np.full(len(others), slot, dtype=np.int64)
        factors, levels = self._score(mine, others)
        weights = self._model.prior_weight + factors.sum(axis=1)
        order = np.argsort(-weights, kind="stable")
        candidates = self._candidates(others[order], weights[order], factors[order], levels[order])
        if len(order) > 1 and bool((np.diff(weights[order]) == 0).any()):  # ties go by record id
            candidates.sort(key=lambda c: (-c.weight, c.record_id))
        return candidates

    def remove(self, record_id: str) -> None:
        """Forget a record: its values, its blocking postings and its share of the term frequencies."""
        slot = self._slots.pop(record_id, None)
        if slot is None:
            return
        self._generation += 1
        self._index.remove(slot)
        for column in self._columns:
            column.clear(slot)
        self._ids[slot] = None
        self._source[slot] = -1
        self._free.append(slot)

    # Scoring

    def _levels(self, a: IntArray, b: IntArray) -> LevelArray:
        out = np.empty((len(a), len(self._columns)), dtype=np.int8)
        for i, column in enumerate(self._columns):
            out[:, i] = column.levels(a, b)
        return out

    def _score(self, a: IntArray, b: IntArray, levels: LevelArray | None = None) -> tuple[FloatArray, LevelArray]:
        """Per-field log2 Bayes factors (n x fields), term-frequency adjusted, and the levels."""
        if levels is None:
            levels = self._levels(a, b)
        factors = np.empty(levels.shape, dtype=np.float64)
        for i, table in enumerate(self._tables):
            factors[:, i] = table[levels[:, i]]
        for i in self._tf:
            exact = np.flatnonzero(levels[:, i] == 0)
            if len(exact):
                column = self._columns[i]
                frequency = column.term_frequency(column.code[a[exact]])
                factors[exact, i] = self._exact_log2_m[i] - np.log2(frequency)
        return factors, levels

    def _candidates(
        self, others: IntArray, weights: FloatArray, factors: FloatArray, levels: LevelArray
    ) -> list[Candidate]:
        probabilities = probability(weights)
        described = np.empty(levels.shape, dtype=object)
        for i, triples in enumerate(self._triples):
            described[:, i] = triples[levels[:, i]]
        for i in self._tf:
            exact = np.flatnonzero(levels[:, i] == 0)
            if len(exact):
                name = self.comparisons[i].field
                described[exact, i] = [(name, "exact", f) for f in factors[exact, i].tolist()]
        ids = self._ids
        return [
            Candidate(ids[other] or "", p, weight, row)
            for other, p, weight, row in zip(
                others.tolist(), probabilities.tolist(), weights.tolist(), map(tuple, described.tolist()), strict=True
            )
        ]

    def _pairs(self) -> tuple[IntArray, IntArray, IntArray, LevelArray]:
        """The blocked pairs (a, b, bit mask of the rules generating each) and their comparison levels."""
        if self._blocked is not None and self._blocked[0] == self._generation:
            return self._blocked[1:]
        a, b, rules = self._index.pairs(self.settings.max_postings)
        if self.settings.one_per_source and len(a):
            keep = self._source[a] != self._source[b]
            a, b, rules = a[keep], b[keep], rules[keep]
        levels = self._levels(a, b)
        self._blocked = (self._generation, a, b, rules, levels)
        return a, b, rules, levels

    def score_all(self) -> list[tuple[str, str, Candidate]]:
        """Every pair the blocking index generates, scored once: (record_a, record_b, candidate for b)."""
        if self._model is None:
            return []
        a, b, _, levels = self._pairs()
        if not len(a):
            return []
        factors, levels = self._score(a, b, levels)
        weights = self._model.prior_weight + factors.sum(axis=1)
        ids = self._ids
        return [
            (ids[first] or "", candidate.record_id, candidate)
            for first, candidate in zip(a.tolist(), self._candidates(b, weights, factors, levels), strict=True)
        ]

    def score_probabilities(self) -> list[tuple[str, str, float]]:
        """score_all's pairs with their probabilities only (what best_links needs; no per-field detail)."""
        if self._model is None:
            return []
        a, b, _, levels = self._pairs()
        if not len(a):
            return []
        factors, _ = self._score(a, b, levels)
        probabilities = probability(self._model.prior_weight + factors.sum(axis=1))
        ids = self._ids
        return [
            (ids[x] or "", ids[y] or "", p)
            for x, y, p in zip(a.tolist(), b.tolist(), probabilities.tolist(), strict=True)
        ]

    def describe(self, pairs: Sequence[tuple[str, str]]) -> list[Candidate]:
        """The candidate (probability, weight, per-field levels) of b for a, for each pair of held records."""
        if self._model is None or not pairs:
            return []
        a = np.fromiter((self._slots[x] for x, _ in pairs), dtype=np.int64, count=len(pairs))
        b = np.fromiter((self._slots[y] for _, y in pairs), dtype=np.int64, count=len(pairs))
        factors, levels = self._score(a, b)
        weights = self._model.prior_weight + factors.sum(axis=1)
        return self._candidates(b, weights, factors, levels)

    def best_links(
        self, pairs: Iterable[tuple[str, str, Candidate | float]], threshold: float
    ) -> list[tuple[str, str, float]]:
        """Links from scored pairs, at probability >= threshold: greedy one-to-one between sources when
        one_per_source (most probable first, each record linked at most once per other source), else each
        record's single best link."""
        scored = [(a, b, c if isinstance(c, float) else c.probability) for a, b, c in pairs]
        if self.settings.one_per_source:
            return one_to_one(scored, self.source_of, threshold)
        return single_best_links(scored, threshold)

    # Training

    def _random_pairs(self, count: int, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
        live = np.fromiter(self._slots.values(), dtype=np.int64, count=len(self._slots))
        firsts: list[IntArray] = []
        seconds: list[IntArray] = []
        wanted = count
        for _ in range(20):
            a = live[rng.integers(0, len(live), size=int(wanted * 1.2) + 10)]
            b = live[rng.integers(0, len(live), size=len(a))]
            keep = a != b
            if self.settings.one_per_source and len(self._source_codes) > 1:
                keep &= self._source[a] != self._source[b]
            firsts.append(a[keep][:wanted])
            seconds.append(b[keep][:wanted])
            wanted -= len(firsts[-1])
            if wanted <= 0:
                break
        return np.concatenate(firsts), np.concatenate(seconds)

    def _possible_pairs(self) -> float:
        if not self.settings.one_per_source:
            n = len(self._slots)
            return n * (n - 1) / 2
        counts = np.bincount(self._source[np.fromiter(self._slots.values(), dtype=np.int64)])
        return float((counts.sum() ** 2 - (counts**2).sum()) / 2)

    def train(self, max_pairs: int = 1_000_000, seed: int = 0, *, per_rule: bool = True) -> Model:
        """Fit m, u and the prior on the records held, set it as the model and return it.

        u from up to max_pairs random pairs (the similarity levels from a sample of them); m by EM with u
        fixed, one session per blocking rule leaving that rule's fields untrained (per_rule=False: a single
        session over all blocked pairs training every field, which is what fails on weak identifiers; kept for
        comparison); the prior is the share of matches among the blocked pairs, scaled to all possible pairs.
        """
        if len(self._slots) < 2:
            raise ValueError("training needs at least two records")
        rng = np.random.default_rng(seed)
        sizes = [len(c.labels) for c in self.comparisons]
        random_a, random_b = self._random_pairs(max_pairs, rng)
        partial = max(PARTIAL_PAIRS, max_pairs // 5)
        u = training.estimate_u([c.level_counts(random_a, random_b, partial, rng) for c in self._columns])
        a, _, rules, levels = self._pairs()
        if not len(a):
            raise ValueError("the blocking rules generate no pairs to train on")
        start = [training.initial_m(size) for size in sizes]
        sessions: list[tuple[list[int], list[FloatArray]]] = []
        if per_rule:
            for number, rule in enumerate(self._index.rules):
                rows = np.flatnonzero(rules & (1 << number))
                trained = [i for i in range(len(sizes)) if i not in rule]
                if not len(rows) or not trained:
                    continue
                if len(rows) > max_pairs:
                    rows = rng.choice(rows, size=max_pairs, replace=False)
                m, _ = training.expectation_maximisation(levels[rows], start, u, 0.3, trained)
                sessions.append((trained, m))
        else:
            rows = np.arange(len(a)) if len(a) <= max_pairs else rng.choice(len(a), size=max_pairs, replace=False)
            m, _ = training.expectation_maximisation(levels[rows], start, u, 0.3, list(range(len(sizes))))
            sessions.append((list(range(len(sizes))), m))
        m_final = []
        for i in range(len(sizes)):
            learnt = [m[i] for trained, m in sessions if i in trained]
            m_final.append(np.mean(learnt, axis=0) if learnt else start[i])
        share = training.estimate_prior(levels, m_final, u)
        prior = float(np.clip(share * len(a) / max(self._possible_pairs(), 1.0), 1e-12, 0.5))
        model = Model(
            comparisons=self.comparisons,
            m=tuple(probabilities(m.tolist()) for m in m_final),
            u=tuple(probabilities(ui.tolist()) for ui in u),
            prior=prior,
        )
        self.model = model
        return model
