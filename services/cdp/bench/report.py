"""Figures: medians over repeats, percentiles, and the table `cdp bench` prints."""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import TypedDict


class Summary(TypedDict):
    median: float
    min: float
    max: float
    runs: list[float]  # every measurement, in order


def summary(values: list[float]) -> Summary:
    """Median, min and max of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values; nan when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _format(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3f}"
    return str(value)


@dataclass
class Table:
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def add(self, *row) -> None:
        self.rows.append(list(row))

    def render(self) -> str:
        cells = [self.columns] + [[_format(v) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = []
        for n, row in enumerate(cells):
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far; nan where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


class CpuMeter:
    """CPU use of some processes over an interval, as % of one core."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._start: dict[str, float] = {}
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self._started
        self.seconds = {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}
        return {
            name: round((cpu_seconds(pid) - self._start[name]) / elapsed * 100, 1) if elapsed > 0 else math.nan
            for name, pid in self.pids.items()
        }
