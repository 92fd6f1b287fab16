"""The quality read model as Prometheus series, read from its tables at each scrape.

The read model is shared by the collector's processes, so every process reports the same values:
aggregate them with max(), not sum(). Labels are source names and the rule's keyword (see
violations.rule_label), never the names callers give their events and fields: /metrics is read by
whoever reaches the probe port, a caller's names may hold personal data (an event named after its
recipient), and a caller inventing names would add a series with each. `cdp violations` and the
quality API (behind a token) name the calls and fields; the database sums them for a scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cdp.collector.quality.anomalies import AnomalyQueries
from cdp.collector.quality.baseline import Band
from cdp.collector.quality.violations import ViolationQueries
from cdp.platform import metrics
from cdp.platform.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

NEW_KIND_S = 3600.0  # a kind first seen this recently is new
# The series served, as they appear in the exposition, with their labels (the alert rules' test reads it).
SERIES = {
    "cdp_plan_violations_total": {"service", "source", "rule"},
    "cdp_violation_kinds_new": {"service", "source"},
    "cdp_volume_anomalies": {"service", "source", "kind"},
}


class QualityMetrics(Collector):
    def __init__(
        self,
        service: str,
        violations: ViolationQueries,
        anomalies: AnomalyQueries,
        source_names: Callable[[], dict[str, str]],
        band: Band,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.service = service
        self.violations = violations
        self.anomalies = anomalies
        self.source_names = source_names
        self.band = band
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        """The series' names, without reading the read model (asked when registered)."""
        yield CounterMetricFamily("cdp_plan_violations", "", labels=[])
        yield GaugeMetricFamily("cdp_violation_kinds_new", "", labels=[])
        yield GaugeMetricFamily("cdp_volume_anomalies", "", labels=[])

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception as error:  # a scrape must not fail for the read model: its series go missing
            log.warning("quality metrics: reading the read model failed: %s", error)

    def _collect(self) -> Iterator[Metric]:
        names = self.source_names()
        now = self.clock.now()
        total = CounterMetricFamily(
            "cdp_plan_violations",
            "Tracking plan violations recorded (and cdp.collect refusals: rule=policy), by source and rule "
            "keyword; the collector's read model, the same from every process (use max).",
            labels=["service", "source", "rule"],
        )
        new = GaugeMetricFamily(
            "cdp_violation_kinds_new",
            f"Kinds of violation (source, call, field, rule) first seen in the last {int(NEW_KIND_S)} s.",
            labels=["service", "source"],
        )
        counted: dict[tuple[str, str], int] = {}
        for source_id, rule, count in self.violations.totals_by_rule():
            labels = (names.get(source_id, source_id), rule)
            counted[labels] = counted.get(labels, 0) + count
        for (source, rule), count in counted.items():
            total.add_metric([self.service, source, rule], count)
        fresh: dict[str, int] = {}
        for source_id, count in self.violations.new_kinds(now - timedelta(seconds=NEW_KIND_S)).items():
            source = names.get(source_id, source_id)
            fresh[source] = fresh.get(source, 0) + count
        for source in sorted(set(names.values()) | set(fresh)):
            new.add_metric([self.service, source], fresh.get(source, 0))
        recent = GaugeMetricFamily(
            "cdp_volume_anomalies",
            "Volume anomalies (drop, spike) recorded for the last hour judged, by source and kind.",
            labels=["service", "source", "kind"],
        )
        for source_id, kind, count in self.anomalies.recent(now, self.band):
            recent.add_metric([self.service, names.get(source_id, source_id), kind], count)
        yield total
        yield new
        yield recent


_registered: list[QualityMetrics] = []


def serve(collector: QualityMetrics) -> Callable[[], None]:
    """Add the series to this process's /metrics; returns what takes them off again. One collector
    service a process serves them (several declared in one process, as tests do: the first)."""
    if _registered:
        return lambda: None
    metrics.REGISTRY.register(collector)
    _registered.append(collector)

    def stop() -> None:
        if collector in _registered:
            _registered.remove(collector)
            metrics.REGISTRY.unregister(collector)

    return stop
