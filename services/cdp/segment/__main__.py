"""Run segment: python -m cdp.segment [flags]."""

from __future__ import annotations

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.platform import bootstrap
from cdp.platform import config as config_module
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.server import run, setup_logging
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from cdp.segment.servicer import SegmentServicer


async def serve(config: config_module.ServiceConfig) -> None:
    service, store, decider = bootstrap.start(config)
    app = SegmentApp(store, decider, open_vault(config))
    follower = Follower(
        store,
        "profile",
        service.channel(config.peer("profile")),
        app.handle_profiles,
        topics=PROFILE_TOPICS,
        reset=app.rebuild,
    )
    service.add(
        segment_pb2_grpc.add_SegmentServiceServicer_to_server,
        SegmentServicer(app, follower),
        bootstrap.full_name(segment_pb2, "SegmentService"),
    )
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store),
        bootstrap.full_name(eventlog_pb2, "EventLogService"),
    )
    service.background(follower.run(), "follow-profile")
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("segment")
    run(lambda: serve(config_module.load("segment", argv)))


if __name__ == "__main__":
    main()
