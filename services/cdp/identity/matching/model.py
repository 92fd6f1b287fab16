"""The fitted Fellegi-Sunter model: m and u per comparison level, and the prior match probability.

A model holds parameters only: no term frequencies and no value from any record, so it can be stored and
shared (as JSON) like a ruleset. Its version is a hash of its content.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cdp.identity.matching.comparisons import LEVELS, Comparison

FORMAT = "cdp.identity.matching.fellegi-sunter/1"
FLOOR = 1e-6  # no level is impossible, among matches or non-matches


def probabilities(values: Sequence[float]) -> tuple[float, ...]:
    """A distribution over levels, no level below FLOOR."""
    clipped = [min(max(float(v), FLOOR), 1.0) for v in values]
    total = sum(clipped)
    return tuple(v / total for v in clipped)


def _check(name: str, values: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if any(not v > 0.0 for v in out) or abs(sum(out) - 1.0) > 1e-6:
        raise ValueError(f"{name}: probabilities must be positive and sum to 1")
    return out


@dataclass(frozen=True)
class Model:
    """m[i][k]: P(level k of comparison i | match); u[i][k]: the same among non-matches; prior: P(match)."""

    comparisons: tuple[Comparison, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    version: str = field(init=False)

    def __post_init__(self) -> None:
        if not (len(self.comparisons) == len(self.m) == len(self.u)):
            raise ValueError("a model needs m and u for every comparison")
        for comparison, m, u in zip(self.comparisons, self.m, self.u, strict=True):
            if comparison.kind not in LEVELS:
                raise ValueError(f"{comparison.field}: unknown comparison kind {comparison.kind!r}")
            levels = len(LEVELS[comparison.kind])
            if len(m) != levels or len(u) != levels:
                raise ValueError(f"{comparison.field}: {comparison.kind} has {levels} levels")
        if not 0.0 < self.prior < 1.0:
            raise ValueError("the prior match probability must be strictly between 0 and 1")
        fields = [c.field for c in self.comparisons]
        object.__setattr__(self, "m", tuple(_check(f"m of {f}", m) for f, m in zip(fields, self.m, strict=True)))
        object.__setattr__(self, "u", tuple(_check(f"u of {f}", u) for f, u in zip(fields, self.u, strict=True)))
        digest = hashlib.sha256(json.dumps(self._content(), sort_keys=True).encode()).hexdigest()
        object.__setattr__(self, "version", f"fs-{digest[:12]}")

    def _content(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "lambda": self.prior,
            "comparisons": [
                {
                    "field": c.field,
                    "kind": c.kind,
                    "levels": list(c.labels),
                    "term_frequencies": c.term_frequencies,
                    "m": list(m),
                    "u": list(u),
                }
                for c, m, u in zip(self.comparisons, self.m, self.u, strict=True)
            ],
        }

    def to_json(self) -> str:
        return json.dumps({"version": self.version, **self._content()}, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Model:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a model of format {FORMAT}")
        try:
            comparisons = data["comparisons"]
            model = cls(
                comparisons=tuple(Comparison(str(c["field"]), str(c["kind"])) for c in comparisons),
                m=tuple(tuple(c["m"]) for c in comparisons),
                u=tuple(tuple(c["u"]) for c in comparisons),
                prior=float(data["lambda"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a complete model: {error!r}") from None
        if "version" in data and data["version"] != model.version:
            raise ValueError(f"model version {data['version']} does not match its content ({model.version})")
        return model

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds of a match."""
        return math.log2(self.prior / (1.0 - self.prior))

    def weight_tables(self) -> list[NDArray[np.float64]]:
        """Per comparison, log2(m/u) by level, with a last entry 0.0 that level -1 (null) picks."""
        return [np.append(np.log2(np.asarray(m) / np.asarray(u)), 0.0) for m, u in zip(self.m, self.u, strict=True)]

    def exact_log2_m(self) -> list[float]:
        """log2 m of the exact level, which a term-frequency adjusted weight divides by the value's frequency."""
        return [math.log2(m[0]) for m in self.m]


def probability(weight: NDArray[np.float64]) -> NDArray[np.float64]:
    """Match probability from match weight (log2 odds)."""
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(weight, -1000.0, 1000.0))), dtype=np.float64)
