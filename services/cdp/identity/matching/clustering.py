"""From scored pairs to links: greedy one-to-one between sources, or each record's single best link."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def one_to_one(
    pairs: Iterable[tuple[str, str, float]], source_of: Callable[[str], str | None], threshold: float
) -> list[tuple[str, str, float]]:
    """Highest probability first, a pair is kept unless either record already links to the other's source."""
    ranked = sorted((p for p in pairs if p[2] >= threshold), key=lambda p: (-p[2], p[0], p[1]))
    taken: set[tuple[str, str]] = set()
    links = []
    for a, b, probability in ranked:
        source_a, source_b = source_of(a), source_of(b)
        if source_a is None or source_b is None or source_a == source_b:
            continue
        if (a, source_b) in taken or (b, source_a) in taken:
            continue
        taken.add((a, source_b))
        taken.add((b, source_a))
        links.append((a, b, probability))
    return links


def single_best_links(pairs: Iterable[tuple[str, str, float]], threshold: float) -> list[tuple[str, str, float]]:
    """Each record keeps its most probable link (ties: the smaller other id); the kept pairs, once each."""
    best: dict[str, tuple[float, str, str, str]] = {}
    for a, b, probability in pairs:
        if probability < threshold:
            continue
        for record, other in ((a, b), (b, a)):
            current = best.get(record)
            if current is None or (-probability, other) < (-current[0], current[1]):
                best[record] = (probability, other, a, b)
    links: dict[tuple[str, str], float] = {}
    for probability, _, a, b in best.values():
        links[(a, b)] = probability
    return sorted(((a, b, p) for (a, b), p in links.items()), key=lambda p: (-p[2], p[0], p[1]))
