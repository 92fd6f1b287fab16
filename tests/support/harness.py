"""All five applications wired in one process, with no sockets.

Each application has its own SQLite store, decider (the repository's policies on the embedded
engine) and unit of work, as in a deployment; the ports between them are in-process adapters
(a log is read straight from the upstream's store, identity is asked directly), and deliveries go
to a FakeDestination. Followers run as tasks on the test's event loop, so an event goes through
the whole chain in milliseconds:

    async with Harness(tmp_path) as h:
        key = h.write_key()
        await h.ingest(key, [event(...)])
        await h.settle()
        assert h.destination.received
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from cdp.activation.application import PROFILE_TOPICS as ACTIVATION_PROFILE_TOPICS
from cdp.activation.application import SEGMENT_TOPICS, ActivationApp
from cdp.activation.destinations.port import Message, Outcome
from cdp.activation.queues import DeliveryWorker
from cdp.api.activation.v1 import activation_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.collector.application import Collector
from cdp.collector.suppression import Suppressions
from cdp.identity.application import TOPICS_FOLLOWED, IdentityApp
from cdp.platform import config as config_module
from cdp.platform.auth import Caller
from cdp.platform.clock import ManualClock
from cdp.platform.eventlog import StoreLog, Upstream
from cdp.platform.follower import Follower
from cdp.platform.personal import PersonalData, open_vault, subject_of_call
from cdp.platform.pseudonyms import Pseudonyms
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.store import open_store
from cdp.platform.vault import load_master_key
from cdp.profile import accounts, projections, timeline
from cdp.profile.application import COLLECTOR_TOPICS, IDENTITY_TOPICS, PUBLISHED, ProfileApp
from cdp.segment.application import COLLECTOR_TOPICS as SEGMENT_COLLECTOR_TOPICS
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from support.kernel import unit_of_work

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ADMIN = Caller("ops@example.com", ("admin",), "user")
MARKETER = Caller("ana@example.com", ("marketer",), "user")
APPROVER = Caller("pia@example.com", ("privacy_officer",), "user")  # the second pair of eyes on a sync


class FakeDestination:
    """A destination kind that records what it receives; fails the next `failures` sends (an
    outage) with `status` (503 unless told)."""

    kind = "webhook"

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.failures = 0
        self.status = 503
        self.url = ""
        self.max_batch = 1  # messages a send may carry (kinds that take batches say more)
        self.retry_after: float | None = None  # the wait a failure asks for
        self.batches: list[int] = []

    def opened(self, destination: activation_pb2.Destination, secrets: dict[str, str]) -> FakeDestination:
        self.url = destination.url
        return self

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes = []
        self.batches.append(len(messages))
        for message in messages:
            if self.failures:
                self.failures -= 1
                gone, final = self.status == 410, 400 <= self.status < 500 and self.status not in (408, 429)
                outcomes.append(
                    Outcome(
                        ok=False,
                        status=self.status,
                        error=f"HTTP {self.status}",
                        retryable=not final,
                        disable=gone,
                        retry_after_s=self.retry_after,
                    )
                )
                continue
            body = orjson.loads(message.body)
            self.received.append({"url": self.url, "delivery_id": message.delivery_id, "body": body})
            outcomes.append(Outcome(ok=True, status=200))
        return outcomes

    async def close(self) -> None:
        pass


class IdentityInProcess:
    """Profile's Resolver port, answered by the identity application itself."""

    def __init__(self, identity: IdentityApp):
        self.identity = identity

    async def resolve(self, identifiers: Sequence[tuple[str, str]], after_position: int = 0):
        persons, _ = await self.identity.resolve_after(identifiers, after_position, wait_s=10)
        return dict(zip(identifiers, persons, strict=True))


class ProfilesInProcess:
    def __init__(self, profile: ProfileApp):
        self.profile = profile

    async def sealed_profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]:
        return {p.person_id: p for p in self.profile.snapshots(person_ids)}


class AudiencesInProcess:
    def __init__(self, segment: SegmentApp):
        self.segment = segment

    async def audience(self, audience_id: str):
        return self.segment.audience(audience_id)


class Harness:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = config_module.load("collector", ["--data-dir", str(self.root)])
        self.tasks: list[asyncio.Task] = []
        self.clock = ManualClock(START)  # every application's clock: time moves when a test says
        self.followers: list[Follower] = []

    async def __aenter__(self) -> Harness:
        self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def start(self) -> None:
        store_config = self.config.store
        self.stores = {s: open_store(store_config, s) for s in config_module.SERVICES}
        self.uows = {s: unit_of_work(store, s) for s, store in self.stores.items()}
        self.vault = open_vault(self.config)
        clock = self.clock
        self.suppressions = Suppressions(load_master_key(store_config), StoreLog(self.stores["identity"]))
        self.collector = Collector(
            self.uows["collector"],
            PersonalData(self.vault, self.uows["collector"].decider),
            clock,
            suppressions=self.suppressions,
            pseudonyms=Pseudonyms(self.vault, load_master_key(store_config)),
        )

        collector_log = StoreLog(self.stores["collector"])
        identity_upstream = Upstream("collector", collector_log, TOPICS_FOLLOWED)
        self.identity = IdentityApp(
            self.uows["identity"], self.vault, load_master_key(store_config), identity_upstream, clock
        )
        self.profile = ProfileApp(self.uows["profile"], IdentityInProcess(self.identity), clock)
        profile_upstream = Upstream("profile", StoreLog(self.stores["profile"]), PROFILE_TOPICS)
        segment_collector = Upstream("collector", collector_log, SEGMENT_COLLECTOR_TOPICS)
        self.segment = SegmentApp(
            self.uows["segment"],
            profile_upstream,
            self.vault,
            clock,
            index_key=load_master_key(store_config),
            collector=segment_collector,
            identity=IdentityInProcess(self.identity),
        )
        segment_upstream = Upstream("segment", StoreLog(self.stores["segment"]), SEGMENT_TOPICS)
        self.activation = ActivationApp(
            self.uows["activation"],
            segment_upstream,
            ProfilesInProcess(self.profile),
            AudiencesInProcess(self.segment),
            self.vault,
            clock,
            allow_local=True,  # the local profile: destinations on loopback
        )
        self.destination = FakeDestination()
        self.worker = DeliveryWorker(self.activation, self.destination.opened)

        self.read_engine = open_engine(store_config, "profile")
        self.projection = Projection(
            "profiles", self.stores["profile"], self.read_engine, projections.metadata, projections.apply, PUBLISHED
        )
        self.queries = projections.ProfileQueries(self.read_engine)
        store = self.stores["profile"]
        self.projections = [
            self.projection,
            Projection("accounts", store, self.read_engine, accounts.metadata, accounts.apply, accounts.TOPICS),
            Projection("timeline", store, self.read_engine, timeline.metadata, timeline.apply, timeline.TOPICS),
        ]
        self.accounts = accounts.AccountQueries(self.read_engine)
        self.timeline = timeline.TimelineQueries(self.read_engine)
        self.follow(self.uows["identity"], identity_upstream, self.identity.handle, key=subject_of_call)
        self.follow(
            self.uows["profile"],
            Upstream("collector", collector_log, COLLECTOR_TOPICS),
            self.profile.handle_collected,
            key=subject_of_call,
        )
        self.follow(
            self.uows["profile"],
            Upstream("identity", StoreLog(self.stores["identity"]), IDENTITY_TOPICS),
            self.profile.handle_identity,
        )
        self.follow(self.uows["segment"], profile_upstream, self.segment.handle_profiles, key=lambda n: n.originator_id)
        self.follow(self.uows["segment"], segment_collector, self.segment.handle_collected, key=subject_of_call)
        self.follow(
            self.uows["activation"],
            segment_upstream,
            self.activation.handle_memberships,
            key=lambda n: n.originator_id,
        )
        self.follow(
            self.uows["activation"],
            Upstream("profile", StoreLog(self.stores["profile"]), ACTIVATION_PROFILE_TOPICS),
            self.activation.handle_profiles,
            key=lambda n: n.originator_id,
        )
        self.tasks.append(asyncio.create_task(self.worker.run()))

    def restarted(self, service: str, snapshots=None):
        """The service's state as it starts again (from its own log, or its snapshot and the log's
        tail), beside the harness's own, on the same store."""
        if service == "profile":
            return ProfileApp(self.uows["profile"], self.profile.identity, self.clock, snapshots=snapshots)
        if service == "segment":
            return SegmentApp(
                self.uows["segment"],
                self.segment.profile,
                self.vault,
                self.clock,
                index_key=load_master_key(self.config.store),
                collector=self.segment.collector,
                identity=self.segment.identity,
                snapshots=snapshots,
            )
        return ActivationApp(
            self.uows["activation"],
            self.activation.segment,
            self.activation.profiles,
            self.activation.audiences,
            self.vault,
            self.clock,
            allow_local=True,
            snapshots=snapshots,
        )

    async def as_caller(self, caller: Caller, method: str, request):
        """Call one of profile's RPCs as this caller (pii in clear for admin and privacy_officer,
        as cdp.access decides), through the servicer, with no sockets."""
        from cdp.platform.accesslog import AccessLog
        from cdp.platform.auth import _current
        from cdp.profile.servicer import ProfileServicer

        clear = bool({"admin", "privacy_officer"} & set(caller.roles))
        admitted = replace(caller, pii_clear=clear, method=f"/cdp.profile.v1.ProfileService/{method}")
        servicer = ProfileServicer(
            self.profile,
            self.queries,
            self.vault,
            lambda: admitted.pii_clear,
            AccessLog(self.uows["profile"], "profile"),
            self.accounts,
            self.timeline,
        )
        token = _current.set(admitted)
        try:
            return await getattr(servicer, method)(request, None)
        finally:
            _current.reset(token)

    def follow(self, uow, upstream: Upstream, handler, key=None) -> Follower:
        follower = Follower(uow, upstream, handler, key=key, batch=100, wait_ms=20)
        self.followers.append(follower)
        self.tasks.append(asyncio.create_task(follower.run()))
        return follower

    def follower(self, service_store: str, upstream: str) -> Follower:
        store = self.stores[service_store]
        return next(f for f in self.followers if f.store is store and f.name == upstream)

    async def stop(self) -> None:
        for follower in self.followers:
            follower.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.read_engine.dispose()
        for store in self.stores.values():
            store.close()

    # Driving it ----------------------------------------------------------------------------

    def write_key(self, name: str = "web", server_side: bool = False) -> str:
        return self.collector.create_source(name, server_side).write_key

    async def ingest(self, write_key: str, events: Sequence[event_pb2.Event]):
        await self.suppressions.refresh()  # the service reads identity's list every 0.25 s
        return await self.collector.ingest_async(write_key, events)

    async def approve(self, *sync_ids: str, by: Caller = APPROVER) -> list[activation_pb2.Sync]:
        """Approve these syncs (every pending one when none are named), as someone else than their
        author: four eyes on what a sync sends."""
        chosen = sync_ids or tuple(s.sync_id for s in self.activation.list_pending_syncs())
        return [await self.activation.decide_sync(sync_id, "approve", by) for sync_id in chosen]

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every follower has reached its upstream's head and no delivery is pending."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            behind = [f for f in self.followers if f.position < self.stores[f.name].head() and self._has_work(f)]
            pending = [d for d in self.activation.pending() if d.attempts == 0]
            if not behind and not pending and self.worker.outcomes.empty():
                for projection in self.projections:
                    projection.catch_up()
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the chain did not settle: " + ", ".join(f"{f.name}@{f.position}" for f in self.followers))

    def _has_work(self, follower: Follower) -> bool:
        """Whether the upstream holds notifications of the follower's topics past its position."""
        return bool(self.stores[follower.name].read(follower.position, 1, follower.upstream.topics))
