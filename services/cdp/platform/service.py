"""Declared services: a service says once what it serves, what it follows and what it runs in the
background; serve() builds the rest the same way for all five.

    def declare(runtime: Runtime) -> Declaration: ...      # in <service>/service.py
    serve("identity", declare)                             # all of <service>/__main__.py

Every service gets, without declaring it: its event store, its policy decider and unit of work,
a secure gRPC server (mutual TLS, tokens, cdp.access, errors mapped to statuses), its own event
log served to followers, the operations API (status, parked events), health checking and
reflection, and a follower per declared upstream, each committing through the unit of work.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.platform import config as config_module
from cdp.platform import loop as event_loop
from cdp.platform.access import access_control
from cdp.platform.accesslog import AccessLog
from cdp.platform.decisions import Decider, open_decider
from cdp.platform.eventlog import POLL_S, EventLogServicer, GrpcLog, Upstream
from cdp.platform.files import private_tree, private_umask
from cdp.platform.follower import Follower, Handler, KeyOf
from cdp.platform.heads import HeadPublisher, witness_peer
from cdp.platform.logs import loop_exception, setup_logging
from cdp.platform.metrics import exposition
from cdp.platform.ops import OpsServicer
from cdp.platform.probes import Check, Probes, serving
from cdp.platform.security import credentials
from cdp.platform.server import Service
from cdp.platform.snapshots import SnapshotStore, open_snapshots
from cdp.platform.store import EventStore, open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault

log = logging.getLogger(__name__)

LAG_BOUND = 10_000  # a follower further behind its upstream than this is not ready


@dataclass(frozen=True)
class Servicer:
    add: Callable[[Any, grpc.aio.Server], None]  # the generated add_*Servicer_to_server
    servicer: object
    full_name: str  # the proto service's full name (for health and reflection)


@dataclass(frozen=True)
class Follow:
    upstream: Upstream
    handler: Handler
    key: KeyOf | None = None  # events of one key are applied in order; parked ones hold the rest back
    linger_ms: int = 0  # after a short read, wait this long for more (fewer, larger batches)


@dataclass
class Declaration:
    servicers: list[Servicer] = field(default_factory=list)
    follows: list[Follow] = field(default_factory=list)
    tasks: dict[str, Callable[[], Coroutine[Any, Any, None]]] = field(
        default_factory=dict
    )  # name -> coroutine function
    on_stop: list[Callable[[], object]] = field(default_factory=list)
    # Readiness checks of the service's own, beside the platform's: name -> () -> (ok, detail).
    checks: dict[str, Check] = field(default_factory=dict)
    # Replicas of the service append to one store (the collector's): its log's waiting reads look
    # at the store's head for what the others appended.
    replicas_share_store: bool = False


class Runtime:
    """What a service's declaration is built from: config, store, decider, unit of work, peers."""

    def __init__(self, config: config_module.ServiceConfig, uow: UnitOfWork, service: Service):
        self.config = config
        self.uow = uow
        self.store: EventStore = uow.store
        self.decider: Decider = uow.decider
        self.server = service
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._vault: Vault | None = None
        self._snapshots: SnapshotStore | None = None
        self.access = AccessLog(uow, config.service)  # reads of personal data in clear, per read

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            from cdp.platform.personal import open_vault

            self._vault = open_vault(self.config)
        return self._vault

    @property
    def snapshots(self) -> SnapshotStore:
        """Where the service's states write their snapshots (opened when one asks)."""
        if self._snapshots is None:
            self._snapshots = open_snapshots(self.config.store, self.config.service)
        return self._snapshots

    def channel(self, peer: str) -> grpc.aio.Channel:
        """One mutual-TLS channel to each peer service, shared by everything that calls it."""
        if peer not in self._channels:
            self._channels[peer] = self.server.channel(self.config.peer(peer))
        return self._channels[peer]

    def upstream(self, peer: str, topics: Sequence[str]) -> Upstream:
        """A peer's log, to follow (declare a Follow with it) and to read the history of."""
        return Upstream(peer, GrpcLog(self.channel(peer)), topics, self.store.position(peer))


def full_name(pb2_module: Any, service: str) -> str:
    return str(pb2_module.DESCRIPTOR.services_by_name[service].full_name)


Declare = Callable[[Runtime], "Declaration | Awaitable[Declaration]"]


async def start(config: config_module.ServiceConfig, declare: Declare) -> tuple[Service, list[Follower]]:
    """Build the declared service and start serving it (and its followers and tasks)."""
    store = open_store(config.store, config.service)
    uow = UnitOfWork(store, open_decider(config, store))
    service = Service(
        config.service, config.address, credentials(config.credentials_path, config.service), access_control(uow)
    )
    service.on_stop(store.close)
    runtime = Runtime(config, uow, service)
    declared = declare(runtime)
    declaration = await declared if inspect.isawaitable(declared) else declared
    # A service whose states take snapshots keeps its followers' parked events in snapshots too.
    followers = [
        Follower(runtime.uow, f.upstream, f.handler, key=f.key, linger_ms=f.linger_ms, snapshots=runtime._snapshots)
        for f in declaration.follows
    ]
    for s in declaration.servicers:
        service.add(s.add, s.servicer, s.full_name)
    event_log = EventLogServicer(store, POLL_S if declaration.replicas_share_store else None)
    service.on_stopping(event_log.log.close)  # followers' waiting reads end before the drain
    service.add(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        event_log,
        full_name(eventlog_pb2, "EventLogService"),
    )
    service.add(
        ops_pb2_grpc.add_OpsServiceServicer_to_server,
        OpsServicer(config.service, store, followers, uow=runtime.uow, credentials_dir=config.credentials_path),
        full_name(ops_pb2, "OpsService"),
    )
    for follower in followers:
        service.background(follower.run, f"follow-{follower.name}")
    for name, task in declaration.tasks.items():
        service.background(task, name)
    if runtime._snapshots is not None:
        service.background(runtime._snapshots.run, "snapshots")
        service.on_stop(runtime._snapshots.close)
    peer = witness_peer(config.service)
    if uow.decider.signing_key is not None and peer in config.peers:  # a lone service has none to tell
        publisher = HeadPublisher(config.service, peer, runtime.channel(peer))
        uow.decider.on_head.append(publisher.offer)
        service.background(publisher.run, "witness-head")
    for callback in declaration.on_stop:
        service.on_stop(callback)
    for channel in runtime._channels.values():
        service.on_stop(channel.close)  # type: ignore[arg-type]  # grpc-stubs: close's grace defaults to None
    if config.probe_port:
        # Plain-HTTP /healthz and /readyz: serving gRPC, the store answers, followers within bound.
        service.probes = Probes(
            config.host,
            config.probe_port,
            {"grpc serving": serving(service), **ready(store, followers), **declaration.checks},
            metrics=lambda: metrics(config.service, store, followers),
        )
        service.on_start(service.probes.start)
        service.on_stop(service.probes.stop)
    return service, followers


def metrics(name: str, store: EventStore, followers: Sequence[Follower]) -> str:
    """The service's gauges in Prometheus' text format."""
    lines = [
        "# HELP cdp_log_head The newest notification id in the service's own log.",
        "# TYPE cdp_log_head gauge",
        f'cdp_log_head{{service="{name}"}} {store.head()}',
    ]
    gauges: dict[str, tuple[str, Callable[[Follower], int]]] = {
        "cdp_follower_position": ("The upstream position committed.", lambda f: f.position),
        "cdp_follower_lag": (
            "Upstream notifications not yet followed.",
            lambda f: max(f.upstream.head - f.position, 0),
        ),
        "cdp_follower_parked": ("Upstream events parked and not yet applied.", lambda f: len(f.parked)),
    }
    for metric, (help_text, value) in gauges.items():
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{service="{name}",upstream="{f.name}"}} {value(f)}' for f in followers]
    return "\n".join(lines) + "\n" + exposition()


def ready(store: EventStore, followers: Sequence[Follower]) -> dict[str, Callable[[], tuple[bool, str]]]:
    """Readiness: the store answers, and every follower is within LAG_BOUND of its upstream."""

    def store_reachable() -> tuple[bool, str]:
        return True, f"head {store.head()}"

    def follower_within(follower: Follower) -> Callable[[], tuple[bool, str]]:
        def check() -> tuple[bool, str]:
            lag = max(follower.upstream.head - follower.position, 0)
            return lag <= LAG_BOUND, f"{lag} behind {follower.name}"

        return check

    checks = {"store": store_reachable}
    checks.update({f"follow-{f.name}": follower_within(f) for f in followers})
    return checks


def serve(name: str, declare: Declare, argv: list[str] | None = None) -> None:
    """Run a declared service until SIGINT or SIGTERM (the whole of a service's __main__)."""
    private_umask()
    setup_logging(name)
    config = config_module.load(name, argv)
    for directory in {config.store.data_dir, config.credentials_path, config.state_path}:
        private_tree(directory)  # a directory an older version wrote with looser modes

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(loop_exception)
        service, _ = await start(config, declare)
        await service.run_until_signalled()

    event_loop.run(main())
