"""The segment service, declared: follows profile, serves SegmentService."""

from __future__ import annotations

from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.platform.service import Declaration, Follow, Runtime, Servicer, full_name
from cdp.platform.vault import load_master_key
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from cdp.segment.servicer import SegmentServicer


def declare(runtime: Runtime) -> Declaration:
    profile = runtime.upstream("profile", PROFILE_TOPICS)
    app = SegmentApp(runtime.uow, profile, runtime.vault, index_key=load_master_key(runtime.config.store))
    return Declaration(
        servicers=[
            Servicer(
                segment_pb2_grpc.add_SegmentServiceServicer_to_server,
                SegmentServicer(app),
                full_name(segment_pb2, "SegmentService"),
            )
        ],
        follows=[Follow(profile, app.handle_profiles, key=lambda n: n.originator_id)],
    )
