"""Run identity: python -m cdp.identity [flags]."""

from __future__ import annotations

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.identity.application import TOPICS_FOLLOWED, UPSTREAM, IdentityApp
from cdp.identity.servicer import IdentityServicer
from cdp.platform import config as config_module
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.vault import load_master_key
from cdp.platform.server import Service, channel, run, setup_logging
from cdp.platform.store import open_store


async def serve(config: config_module.ServiceConfig) -> None:
    store = open_store(config.store, "identity")
    app = IdentityApp(store, open_vault(config), load_master_key(config.store.data_dir))
    follower = Follower(store, UPSTREAM, channel(config.peer(UPSTREAM)), app.handle,
                        topics=TOPICS_FOLLOWED, reset=app.rebuild)
    service = Service("identity", config.address)
    service.add(identity_pb2_grpc.add_IdentityServicer_to_server, IdentityServicer(app, follower),
                identity_pb2.DESCRIPTOR.services_by_name["Identity"].full_name)
    service.add(eventlog_pb2_grpc.add_EventLogServicer_to_server, EventLogServicer(store),
                eventlog_pb2.DESCRIPTOR.services_by_name["EventLog"].full_name)
    service.background(follower.run(), "follow-collector")
    service.on_stop(store.close)
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("identity")
    run(lambda: serve(config_module.load("identity", argv)))


if __name__ == "__main__":
    main()
