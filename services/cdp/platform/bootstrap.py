"""What every service's __main__ does the same way: config once, store, decider, secure server."""

from __future__ import annotations

from cdp.platform import config as config_module
from cdp.platform.access import access_control
from cdp.platform.decisions import Decider, open_decider
from cdp.platform.security import credentials
from cdp.platform.server import Service
from cdp.platform.store import EventStore, open_store


def start(config: config_module.ServiceConfig) -> tuple[Service, EventStore, Decider]:
    """The service's event store, its policy decider and its (not yet listening) server."""
    store = open_store(config.store, config.service)
    decider = open_decider(config, store)
    service = Service(
        config.service, config.address, credentials(config.store.data_dir, config.service), access_control(decider)
    )
    service.on_stop(store.close)
    return service, store, decider


def full_name(pb2_module, service: str) -> str:
    return pb2_module.DESCRIPTOR.services_by_name[service].full_name
