"""Estimating the Fellegi-Sunter parameters from comparison levels (no record values in here).

The recipe, as Splink does it: u from pairs drawn at random (nearly all non-matches), then m by
expectation-maximisation with u held fixed, one session per blocking rule. A session's pairs all agree on its
rule's fields, so those fields say nothing about matching there and are left untrained in that session; every
other field's m is learnt from them. Each field's m is the mean over the sessions that trained it. Without
this, when the identifiers are weak (names and a date of birth), one EM over all blocked pairs learns
"shares a first name" instead of "is the same person".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from cdp.identity.matching.comparisons import LevelArray, level_counts

FloatArray = NDArray[np.float64]


def initial_m(levels: int) -> FloatArray:
    """A starting m: most matches agree exactly, fewer at each weaker level."""
    if levels == 2:
        return np.array([0.9, 0.1])
    rest = 0.1 * 0.5 ** np.arange(levels - 1)
    return np.concatenate([[0.9], rest / rest.sum() * 0.1])


def estimate_u(counts: Sequence[FloatArray]) -> list[FloatArray]:
    """u per comparison from how many random pairs are at each level (half a pair more at each, so that no
    level is impossible)."""
    return [(c + 0.5) / (c + 0.5).sum() for c in counts]


def _log_ratio(levels: LevelArray, tables: Sequence[FloatArray], active: Sequence[int]) -> FloatArray:
    total = np.zeros(len(levels))
    for i in active:
        total += tables[i][levels[:, i]]
    return total


def _tables(m: Sequence[FloatArray], u: Sequence[FloatArray]) -> list[FloatArray]:
    return [np.append(np.log2(mi / ui), 0.0) for mi, ui in zip(m, u, strict=True)]


def _posterior(log_ratio: FloatArray, prior: float) -> FloatArray:
    weight = np.log2(prior / (1 - prior)) + log_ratio
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000))), dtype=np.float64)


def expectation_maximisation(
    levels: LevelArray,
    m: Sequence[FloatArray],
    u: Sequence[FloatArray],
    prior: float,
    trained: Sequence[int],
    iterations: int = 50,
    tolerance: float = 1e-5,
) -> tuple[list[FloatArray], float]:
    """m of the trained comparisons and the share of matches among these pairs, u held fixed.

    Comparisons not in `trained` neither vote in the expectation step nor change.
    """
    m = [np.asarray(x, dtype=np.float64).copy() for x in m]
    for _ in range(iterations):
        posterior = _posterior(_log_ratio(levels, _tables(m, u), trained), prior)
        change = 0.0
        for i in trained:
            counts = level_counts(levels[:, i], len(m[i]), posterior) + 1e-6
            updated = counts / counts.sum()
            change = max(change, float(np.abs(updated - m[i]).max()))
            m[i] = updated
        updated_prior = float(np.clip(posterior.mean(), 1e-9, 1 - 1e-9))
        change = max(change, abs(updated_prior - prior))
        prior = updated_prior
        if change < tolerance:
            break
    return m, prior


def estimate_prior(
    levels: LevelArray, m: Sequence[FloatArray], u: Sequence[FloatArray], prior: float = 0.1, iterations: int = 50
) -> float:
    """The share of matches among these pairs, with m and u fixed."""
    ratio = _log_ratio(levels, _tables(m, u), range(len(m)))
    for _ in range(iterations):
        updated = float(np.clip(_posterior(ratio, prior).mean(), 1e-12, 1 - 1e-12))
        if abs(updated - prior) < 1e-9:
            return updated
        prior = updated
    return prior
