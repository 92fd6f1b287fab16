"""The collector service, declared: serves Collector (and its quality read models) over gRPC and the
tracking API over HTTP."""

from __future__ import annotations

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.collector.application import Collector
from cdp.collector.http_api import start_http
from cdp.collector.quality import service as quality
from cdp.collector.servicer import CollectorServicer
from cdp.collector.suppression import Suppressions, cache_path
from cdp.platform.eventlog import GrpcLog
from cdp.platform.personal import PersonalData
from cdp.platform.pseudonyms import Pseudonyms
from cdp.platform.service import Declaration, Runtime, Servicer, full_name
from cdp.platform.vault import load_master_key


async def declare(runtime: Runtime) -> Declaration:
    master_key = load_master_key(runtime.config.store)
    suppressions = Suppressions(
        master_key, GrpcLog(runtime.channel("identity")), cache=cache_path(runtime.config.state_path)
    )
    collector = Collector(
        runtime.uow,
        PersonalData(runtime.vault, runtime.decider),
        suppressions=suppressions,
        pseudonyms=Pseudonyms(runtime.vault, master_key),
    )
    reads = quality.declare(runtime, collector)
    declaration = Declaration(
        servicers=[
            Servicer(
                collector_pb2_grpc.add_CollectorServiceServicer_to_server,
                CollectorServicer(collector),
                full_name(collector_pb2, "CollectorService"),
            ),
            reads.servicer,
        ],
        tasks={
            "follow-own-store": collector.follow_own_store,
            "follow-suppressions": suppressions.follow,
            **reads.tasks,
        },
        on_stop=reads.on_stop,
        checks={"suppressions": suppressions.readiness},
        replicas_share_store=True,  # any number of collector processes (see cdp up, deploy/)
    )
    config = runtime.config
    if config.http_port:
        runner = await start_http(collector, config.host, config.http_port)
        declaration.on_stop.append(runner.cleanup)
    return declaration
