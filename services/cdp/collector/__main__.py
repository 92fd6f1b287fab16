"""Run the collector: python -m cdp.collector [flags]."""

from __future__ import annotations

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.collector.application import Collector
from cdp.collector.http_api import start_http
from cdp.collector.servicer import CollectorServicer
from cdp.platform import bootstrap
from cdp.platform import config as config_module
from cdp.platform.eventlog import EventLogServicer
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.server import run, setup_logging


async def serve(config: config_module.ServiceConfig) -> None:
    service, store, decider = bootstrap.start(config)
    collector = Collector(store, decider, PersonalData(open_vault(config), decider))
    service.add(
        collector_pb2_grpc.add_CollectorServiceServicer_to_server,
        CollectorServicer(collector),
        bootstrap.full_name(collector_pb2, "CollectorService"),
    )
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store),
        bootstrap.full_name(eventlog_pb2, "EventLogService"),
    )
    if config.http_port:
        runner = await start_http(collector, config.host, config.http_port)
        service.on_stop(runner.cleanup)
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("collector")
    config = config_module.load("collector", argv)
    run(lambda: serve(config))


if __name__ == "__main__":
    main()
