"""The quality read models, declared into the collector service: their projection, the anomaly
timer, QualityService and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cdp.api.collector.v1 import quality_pb2, quality_pb2_grpc
from cdp.collector.application import Collector
from cdp.collector.quality import readmodel
from cdp.collector.quality.anomalies import AnomalyQueries, Detector
from cdp.collector.quality.baseline import Band
from cdp.collector.quality.catalog import CatalogQueries, Classify
from cdp.collector.quality.metrics import QualityMetrics, serve
from cdp.collector.quality.readmodel import NAME
from cdp.collector.quality.servicer import QualityServicer
from cdp.collector.quality.violations import ViolationQueries
from cdp.platform.lease import Lease
from cdp.platform.service import Runtime, Servicer, full_name
from cdp.platform.unit_of_work import UnitOfWork

CLASSES = "data.cdp.pii.classes"  # cdp.pii's class of each name (what its personal verdict is made of)


def classifier(uow: UnitOfWork) -> Classify:
    """Names -> their cdp.pii class, as one recorded decision."""

    def classify(names: Sequence[str]) -> dict[str, str]:
        if not names:
            return {}
        decision = uow.decider.decide(CLASSES, {"fields": list(names)})
        uow.commit()  # the decision is recorded before its answer is shown
        result = decision.result
        return {k: v for k, v in result.items() if isinstance(v, str)} if isinstance(result, dict) else {}

    return classify


@dataclass
class Quality:
    servicer: Servicer
    tasks: dict[str, Any] = field(default_factory=dict)
    on_stop: list[Any] = field(default_factory=list)


def declare(runtime: Runtime, collector: Collector) -> Quality:
    engine = readmodel.engine_of(runtime.config.store)
    projection = readmodel.projection(runtime.store, engine)
    projection.catch_up()
    band = Band.from_env()
    detector = Detector(runtime.uow, engine, projection.catch_up, band)
    violations, anomalies = ViolationQueries(engine), AnomalyQueries(engine)
    servicer = QualityServicer(
        collector,
        violations,
        CatalogQueries(engine),
        anomalies,
        classifier(runtime.uow),
        projection.catch_up_off_loop,
    )
    unserve = serve(QualityMetrics(runtime.config.service, violations, anomalies, servicer.source_names, band))
    return Quality(
        Servicer(
            quality_pb2_grpc.add_QualityServiceServicer_to_server, servicer, full_name(quality_pb2, "QualityService")
        ),
        tasks={"project-quality": lambda: projection.run(lease=Lease(engine, NAME)), "volume-anomalies": detector.run},
        on_stop=[unserve, engine.dispose],
    )
