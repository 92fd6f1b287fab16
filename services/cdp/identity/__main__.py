"""Run identity: python -m cdp.identity [flags]."""

from __future__ import annotations

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.identity.application import TOPICS_FOLLOWED, UPSTREAM, IdentityApp
from cdp.identity.servicer import IdentityServicer
from cdp.platform import bootstrap
from cdp.platform import config as config_module
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.server import run, setup_logging
from cdp.platform.vault import load_master_key


async def serve(config: config_module.ServiceConfig) -> None:
    service, store, _ = bootstrap.start(config)
    app = IdentityApp(store, open_vault(config), load_master_key(config.store.data_dir))
    follower = Follower(
        store, UPSTREAM, service.channel(config.peer(UPSTREAM)), app.handle, topics=TOPICS_FOLLOWED, reset=app.rebuild
    )
    service.add(
        identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        IdentityServicer(app, follower),
        bootstrap.full_name(identity_pb2, "IdentityService"),
    )
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store),
        bootstrap.full_name(eventlog_pb2, "EventLogService"),
    )
    service.background(follower.run(), "follow-collector")
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("identity")
    run(lambda: serve(config_module.load("identity", argv)))


if __name__ == "__main__":
    main()
