"""The segment service, declared: follows profile and the collector, serves SegmentService, and
fires audience timers."""

from __future__ import annotations

from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.client.resolver import IdentityResolver
from cdp.platform.personal import subject_of_call
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name
from cdp.platform.vault import load_master_key
from cdp.segment.application import COLLECTOR_TOPICS, PROFILE_TOPICS, SegmentApp
from cdp.segment.servicer import SegmentServicer


def declare(runtime: Runtime) -> Declaration:
    profile = runtime.upstream("profile", PROFILE_TOPICS)
    collector = runtime.upstream("collector", COLLECTOR_TOPICS)
    app = SegmentApp(
        runtime.uow,
        profile,
        runtime.vault,
        index_key=load_master_key(runtime.config.store),
        collector=collector,
        identity=IdentityResolver(runtime.channel("identity")),
        snapshots=runtime.snapshots,
    )
    return Declaration(
        servicers=[
            Servicer(
                segment_pb2_grpc.add_SegmentServiceServicer_to_server,
                SegmentServicer(app),
                full_name(segment_pb2, "SegmentService"),
            )
        ],
        follows=[
            Follow(profile, app.handle_profiles, key=lambda n: n.originator_id),
            Follow(collector, app.handle_collected, key=subject_of_call, linger_ms=10),
        ],
        tasks={"audience-timers": app.run_timers, "warm-state": app.warm},
    )
