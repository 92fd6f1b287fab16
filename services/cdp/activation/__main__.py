"""Run activation: python -m cdp.activation [flags]."""

from __future__ import annotations

from cdp.activation.application import SEGMENT_TOPICS, ActivationApp
from cdp.activation.servicer import ActivationServicer
from cdp.activation.webhook import DeliveryWorker
from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.platform import bootstrap
from cdp.platform import config as config_module
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.personal import open_vault
from cdp.platform.server import run, setup_logging


async def serve(config: config_module.ServiceConfig) -> None:
    service, store, decider = bootstrap.start(config)
    segment = service.channel(config.peer("segment"))
    app = ActivationApp(store, decider, service.channel(config.peer("profile")), segment, open_vault(config))
    follower = Follower(
        store, "segment", segment, app.handle_memberships, topics=SEGMENT_TOPICS, reset=app.rebuild, decider=decider
    )
    worker = DeliveryWorker(app)
    service.add(
        activation_pb2_grpc.add_ActivationServiceServicer_to_server,
        ActivationServicer(app, follower),
        bootstrap.full_name(activation_pb2, "ActivationService"),
    )
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store),
        bootstrap.full_name(eventlog_pb2, "EventLogService"),
    )
    service.background(follower.run(), "follow-segment")
    service.background(worker.run(), "deliver")
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("activation")
    run(lambda: serve(config_module.load("activation", argv)))


if __name__ == "__main__":
    main()
