"""Run profile: python -m cdp.profile [flags]."""

from __future__ import annotations

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.identity.v1 import identity_pb2_grpc
from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.platform import bootstrap
from cdp.platform import config as config_module
from cdp.platform.auth import current_caller
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.server import run, setup_logging
from cdp.profile import projections
from cdp.profile.application import COLLECTOR_TOPICS, IDENTITY_TOPICS, PUBLISHED, ProfileApp
from cdp.profile.servicer import ProfileServicer


async def serve(config: config_module.ServiceConfig) -> None:
    service, store, _ = bootstrap.start(config)
    identity = service.channel(config.peer("identity"))
    app = ProfileApp(store, identity)
    engine = open_engine(config.store, "profile")
    service.on_stop(engine.dispose)
    projection = Projection("profiles", store, engine, projections.metadata, projections.apply, topics=PUBLISHED)
    projection.catch_up()
    follow_collector = Follower(
        store,
        "collector",
        service.channel(config.peer("collector")),
        app.handle_collected,
        topics=COLLECTOR_TOPICS,
        reset=app.rebuild,
    )
    follow_identity = Follower(
        store, "identity", identity, app.handle_identity, topics=IDENTITY_TOPICS, reset=app.rebuild
    )
    servicer = ProfileServicer(
        projections.ProfileQueries(engine),
        identity_pb2_grpc.IdentityServiceStub(identity),
        open_vault(config),
        may_see_personal=lambda context: current_caller().pii_clear,
        current=app.snapshots,
    )
    service.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        servicer,
        bootstrap.full_name(profile_pb2, "ProfileService"),
    )
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store),
        bootstrap.full_name(eventlog_pb2, "EventLogService"),
    )
    service.background(follow_collector.run(), "follow-collector")
    service.background(follow_identity.run(), "follow-identity")
    service.background(projection.run(), "project-profiles")
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("profile")
    run(lambda: serve(config_module.load("profile", argv)))


if __name__ == "__main__":
    main()
