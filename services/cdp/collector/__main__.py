"""Run the collector: python -m cdp.collector [flags]."""

from __future__ import annotations

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.collector.application import Collector
from cdp.collector.http_api import start_http
from cdp.collector.servicer import CollectorServicer
from cdp.platform import config as config_module
from cdp.platform.decisions import open_decider
from cdp.platform.eventlog import EventLogServicer
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.server import Service, run, setup_logging
from cdp.platform.store import open_store


async def serve(config: config_module.ServiceConfig) -> None:
    store = open_store(config.store, "collector")
    decider = open_decider(config, store)
    collector = Collector(store, decider, PersonalData(open_vault(config), decider))
    service = Service("collector", config.address)
    service.add(collector_pb2_grpc.add_CollectorServicer_to_server, CollectorServicer(collector),
                collector_pb2.DESCRIPTOR.services_by_name["Collector"].full_name)
    service.add(eventlog_pb2_grpc.add_EventLogServicer_to_server, EventLogServicer(store),
                eventlog_pb2.DESCRIPTOR.services_by_name["EventLog"].full_name)
    if config.http_port:
        runner = await start_http(collector, config.host, config.http_port)
        service.on_stop(runner.cleanup)
    service.on_stop(store.close)
    await service.run_until_signalled()


def main(argv: list[str] | None = None) -> None:
    setup_logging("collector")
    config = config_module.load("collector", argv)
    run(lambda: serve(config))


if __name__ == "__main__":
    main()
