"""Run activation: python -m cdp.activation [flags]."""

from __future__ import annotations

from cdp.activation.application import SEGMENT_TOPICS, ActivationApp
from cdp.activation.servicer import ActivationServicer
from cdp.activation.webhook import DeliveryWorker
from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.platform import config as config_module
from cdp.platform.decisions import open_decider
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.server import Service, channel, run, setup_logging
from cdp.platform.store import open_store


async def serve(config: config_module.ServiceConfig) -> None:
    store = open_store(config.store, "activation")
    decider = open_decider(config, store)
    app = ActivationApp(store, decider, channel(config.peer("profile")), channel(config.peer("segment")), open_vault(config))
    follower = Follower(store, "segment", channel(config.peer("segment")), app.handle_memberships,
                        topics=SEGMENT_TOPICS, reset=app.rebuild, decider=decider)
    worker = DeliveryWorker(app)
    service = Service("activation", config.address)
    service.add(activation_pb2_grpc.add_ActivationServicer_to_server, ActivationServicer(app, follower),
                activation_pb2.DESCRIPTOR.services_by_name["Activation"].full_name)
    service.add(eventlog_pb2_grpc.add_EventLogServicer_to_server, EventLogServicer(store),
                eventlog_pb2.DESCRIPTOR.services_by_name["EventLog"].full_name)
    service.background(follower.run(), "follow-segment")
    service.background(worker.run(), "deliver")
    service.on_stop(store.close)
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("activation")
    run(lambda: serve(config_module.load("activation", argv)))


if __name__ == "__main__":
    main()
