"""gRPC adapter of the quality read models (QualityService, served by every collector process)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import orjson

from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.api.collector.v1 import quality_pb2_grpc
from cdp.collector.application import Collector
from cdp.collector.quality.anomalies import AnomalyQueries
from cdp.collector.quality.catalog import CatalogQueries, Classify
from cdp.collector.quality.violations import EXAMPLES, MAX_EXAMPLES, ViolationQueries
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso, parse_iso
from cdp.platform.errors import InvalidArgument

DEFAULT_VIOLATIONS_RANGE = timedelta(hours=24)
DEFAULT_ANOMALIES_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=92)


def time_range(since: str, until: str, default: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) from a request: RFC 3339 times; until defaults to now, since to default before."""
    end = _time("until", until) if until else now
    start = _time("since", since) if since else end - default
    if start >= end:
        raise InvalidArgument("since", f"must be before until ({format_iso(end)})")
    if end - start > MAX_RANGE:
        raise InvalidArgument("since", f"the range may span at most {MAX_RANGE.days} days")
    return start, end


def _time(field: str, text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError:
        raise InvalidArgument(field, "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z") from None


class QualityServicer(quality_pb2_grpc.QualityServiceServicer):
    """Reads run on worker threads; state and policy (the registry, decisions) on the event loop."""

    def __init__(
        self,
        collector: Collector,
        violations: ViolationQueries,
        catalog: CatalogQueries,
        anomalies: AnomalyQueries,
        classify: Classify,
        catch_up: Callable[[], Awaitable[object]],
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.collector = collector
        self.violations = violations
        self.catalog = catalog
        self.anomalies = anomalies
        self.classify = classify
        self.catch_up = catch_up
        self.clock = clock

    def _sources(self, source_name: str) -> list[str] | None:
        """The ids a request's source_name selects (None: every source); NotFound when none has it."""
        self.collector.refresh()
        return [self.collector.registry.named(source_name).source_id] if source_name.strip() else None

    def source_names(self) -> dict[str, str]:
        return {s.source_id: s.name for s in self.collector.sources.values()}

    async def ListViolations(self, request, context):
        if not 0 <= request.examples <= MAX_EXAMPLES:
            raise InvalidArgument("examples", f"must be between 0 and {MAX_EXAMPLES}")
        since, until = time_range(request.since, request.until, DEFAULT_VIOLATIONS_RANGE, self.clock.now())
        source_ids = self._sources(request.source_name)
        await self.catch_up()  # what this process stored a moment ago is counted
        kinds = await asyncio.to_thread(self.violations.kinds, since, until, source_ids, request.examples or EXAMPLES)
        names = self.source_names()
        for kind in kinds:
            kind.source_name = names.get(kind.source_id, "")
        return qpb.ListViolationsResponse(kinds=kinds, since=format_iso(since), until=format_iso(until))

    async def GetCatalog(self, request, context):
        source_ids = self._sources(request.source_name)
        await self.catch_up()
        plans = {}
        versions = self.collector.registry.plan_versions
        for source in self.collector.sources.values():
            # The version the source is checked against: the one it is pinned to, else the latest.
            document = versions.get(source.plan_name, {}).get(source.plan_version) or (
                self.collector.plan_documents.get(source.plan_name) if source.plan_name else None
            )
            if document is not None:
                plans[source.source_id] = (document.name, document.version, orjson.loads(document.document))
        events = self.catalog.catalog(source_ids, self.source_names(), plans, self.classify)
        return qpb.GetCatalogResponse(events=events)

    async def ListAnomalies(self, request, context):
        since, until = time_range(request.since, request.until, DEFAULT_ANOMALIES_RANGE, self.clock.now())
        source_ids = self._sources(request.source_name)
        await self.catch_up()
        names = self.source_names()
        found = await asyncio.to_thread(self.anomalies.anomalies, since, until, source_ids)
        return qpb.ListAnomaliesResponse(
            anomalies=[qpb.Anomaly(detected=a, source_name=names.get(a.source_id, "")) for a in found]
        )
