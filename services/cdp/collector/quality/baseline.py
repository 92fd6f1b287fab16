"""The volume baseline and band: whether an hour's volume of an event is a drop, a spike or usual.

The baseline of an hour is the median of the same hour of the day over the previous `days` days
(a day without the event counts as 0). The same hour rather than a trailing window, because
traffic follows the day: 3 a.m. is quiet every night, and a trailing window would call every night
a drop and every morning a spike. The median rather than the mean, so one past outage or burst
does not move the baseline. An event needs `min_days` days of history before it is judged (first
seen at least that long before the hour), so a new event is not a spike.

The band is [baseline / factor, baseline x factor]: below it is a drop, above it a spike. Quiet
events are left alone: a drop needs a baseline of at least `min_volume`, a spike at least
`min_volume` calls in the hour, as one call more or less of a rare event is noise.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cdp.platform.errors import InvalidArgument

DROP, SPIKE = "drop", "spike"


@dataclass(frozen=True)
class Band:
    """How far an hour may stray from its baseline (see the module's docstring)."""

    factor: float = 3.0
    days: int = 7
    min_days: int = 3
    min_volume: int = 10
    grace_s: float = 60.0

    def __post_init__(self) -> None:
        for name, value, least in (
            ("factor", self.factor, 1.0),
            ("days", self.days, 1),
            ("min_days", self.min_days, 1),
            ("min_volume", self.min_volume, 1),
            ("grace_s", self.grace_s, 0),
        ):
            if not math.isfinite(value) or value < least:
                raise InvalidArgument(name, f"must be a number of at least {least}")
        if self.min_days > self.days:
            raise InvalidArgument("min_days", f"must be at most days ({self.days})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Band:
        """CDP_ANOMALY_FACTOR, _DAYS, _MIN_DAYS, _MIN_VOLUME, _GRACE_S; unset: the defaults."""
        values: dict[str, float | int] = {}
        for name, kind in (
            ("factor", float),
            ("days", int),
            ("min_days", int),
            ("min_volume", int),
            ("grace_s", float),
        ):
            text = environ.get(f"CDP_ANOMALY_{name.upper()}", "")
            if text:
                try:
                    values[name] = kind(text)
                except ValueError:
                    raise InvalidArgument(f"CDP_ANOMALY_{name.upper()}", f"must be a {kind.__name__}") from None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Judgement:
    kind: str  # drop, spike, or "" (within the band)
    baseline: float
    low: float
    high: float


def judge(observed: int, history: Sequence[int], band: Band) -> Judgement | None:
    """An hour's volume against the same hour of the days before (history, one count a day, 0 for
    a day without calls); None when there is too little history to judge."""
    if len(history) < band.min_days:
        return None
    baseline = float(statistics.median(history))
    low, high = baseline / band.factor, baseline * band.factor
    kind = ""
    if observed < low and baseline >= band.min_volume:
        kind = DROP
    elif observed > high and observed >= band.min_volume:
        kind = SPIKE
    return Judgement(kind, baseline, low, high)
