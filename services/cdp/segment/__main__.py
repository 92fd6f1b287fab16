"""Run segment: python -m cdp.segment [flags]."""

from __future__ import annotations

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.platform import config as config_module
from cdp.platform.decisions import open_decider
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.server import Service, channel, run, setup_logging
from cdp.platform.store import open_store
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from cdp.segment.servicer import SegmentServicer


async def serve(config: config_module.ServiceConfig) -> None:
    store = open_store(config.store, "segment")
    app = SegmentApp(store, open_decider(config, store), open_vault(config))
    follower = Follower(store, "profile", channel(config.peer("profile")), app.handle_profiles,
                        topics=PROFILE_TOPICS, reset=app.rebuild)
    service = Service("segment", config.address)
    service.add(segment_pb2_grpc.add_SegmentServiceServicer_to_server, SegmentServicer(app, follower),
                segment_pb2.DESCRIPTOR.services_by_name["SegmentService"].full_name)
    service.add(eventlog_pb2_grpc.add_EventLogServicer_to_server, EventLogServicer(store),
                eventlog_pb2.DESCRIPTOR.services_by_name["EventLog"].full_name)
    service.background(follower.run(), "follow-profile")
    service.on_stop(store.close)
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("segment")
    run(lambda: serve(config_module.load("segment", argv)))


if __name__ == "__main__":
    main()
