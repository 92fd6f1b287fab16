"""The typed client against in-process gRPC servers: retries, deadlines, the error mapping, paging,
blocking and on asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.client import (
    AsyncEventLogClient,
    AsyncProfileClient,
    AsyncSegmentClient,
    CallFailed,
    CollectorClient,
    Conflict,
    DeadlineExceeded,
    EventLogClient,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ProfileClient,
    Retry,
    SegmentClient,
    Unauthenticated,
    Unavailable,
)

FAST = Retry(tries=4, first_backoff_s=0.01, max_backoff_s=0.02)


class Segments(segment_pb2_grpc.SegmentServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls of each method, then as below."""

    def __init__(self, failures: int = 0, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
        self.failures = failures
        self.code = code
        self.calls: dict[str, int] = {}
        self.metadata: list[dict] = []

    async def _count(self, name: str, context) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        self.metadata.append(dict(context.invocation_metadata()))
        if self.calls[name] <= self.failures:
            await context.abort(self.code, "try again later")

    async def ListAudiences(self, request, context):
        await self._count("ListAudiences", context)
        return segment_pb2.ListAudiencesResponse(audiences=[segment_pb2.Audience(audience_id="a-1", name="Pro")])

    async def CreateAudience(self, request, context):
        await self._count("CreateAudience", context)
        return segment_pb2.CreateAudienceResponse(audience=segment_pb2.Audience(audience_id="a-2", name=request.name))

    async def GetAudience(self, request, context):
        await self._count("GetAudience", context)
        if request.audience_id == "slow":
            await asyncio.sleep(2)
        errors = {
            "missing": (grpc.StatusCode.NOT_FOUND, "audience missing not found", ()),
            "bad": (grpc.StatusCode.INVALID_ARGUMENT, "audience_id: must be a uuid", ()),
            "denied": (
                grpc.StatusCode.PERMISSION_DENIED,
                "ana may not call GetAudience: needs one of the roles [analyst] (decision d-123)",
                (),
            ),
            "denied-trailer": (
                grpc.StatusCode.PERMISSION_DENIED,
                "not allowed",
                (("cdp-decision-id", "d-456"),),
            ),
            "who": (grpc.StatusCode.UNAUTHENTICATED, "no credentials", ()),
            "taken": (grpc.StatusCode.ALREADY_EXISTS, "name taken", ()),
            "down": (grpc.StatusCode.UNAVAILABLE, "identity answered UNAVAILABLE", ()),
            "bug": (grpc.StatusCode.INTERNAL, "internal error (error id abc)", ()),
        }
        if request.audience_id in errors:
            code, message, trailing = errors[request.audience_id]
            await context.abort(code, message, trailing_metadata=trailing)
        return segment_pb2.GetAudienceResponse(audience=segment_pb2.Audience(audience_id=request.audience_id))


class Profiles(profile_pb2_grpc.ProfileServiceServicer):
    """Seven profiles, p-0 to p-6, in pages of `limit`."""

    IDS = tuple(f"p-{i}" for i in range(7))

    def __init__(self):
        self.requests: list[tuple[str, int]] = []

    async def ListProfiles(self, request, context):
        self.requests.append((request.after_person_id, request.limit))
        after = [i for i in self.IDS if i > request.after_person_id]
        page = after[: request.limit]
        more = len(after) > len(page)
        return profile_pb2.ListProfilesResponse(
            profiles=[profile_pb2.Profile(person_id=i) for i in page], next_after=page[-1] if more else ""
        )


class Collector(collector_pb2_grpc.CollectorServiceServicer):
    """Ingest answers UNAVAILABLE twice, then acknowledges; the stream always fails."""

    def __init__(self):
        self.ingests = 0
        self.streams = 0

    async def Ingest(self, request, context):
        self.ingests += 1
        if self.ingests <= 2:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        return collector_pb2.IngestResponse(accepted=len(request.events))

    async def IngestStream(self, request_iterator, context):
        self.streams += 1
        async for _ in request_iterator:
            pass
        await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")


class EventLog(eventlog_pb2_grpc.EventLogServiceServicer):
    """Notifications 1..count of the topic of Notification itself, in pages of `limit`; waits
    wait_ms when there is nothing after the position."""

    TOPIC = eventlog_pb2.ReadRequest.DESCRIPTOR.full_name

    def __init__(self, count: int):
        self.count = count

    async def Read(self, request, context):
        ids = list(range(request.after + 1, self.count + 1))[: request.limit or 1000]
        if not ids and request.wait_ms:
            await asyncio.sleep(request.wait_ms / 1000)
            ids = list(range(request.after + 1, self.count + 1))[: request.limit or 1000]
        payload = eventlog_pb2.ReadRequest(limit=7).SerializeToString()
        return eventlog_pb2.ReadResponse(
            notifications=[eventlog_pb2.Notification(id=i, topic=self.TOPIC, payload=payload) for i in ids],
            head=self.count,
        )


@contextlib.contextmanager
def serving(*servicers) -> Iterator[str]:
    """A grpc.aio server on a free loopback port, on its own thread and loop; yields its address."""
    ready, stop = threading.Event(), None
    state: dict = {}

    async def main():
        nonlocal stop
        server = grpc.aio.server()
        for servicer in servicers:
            adder = {
                Segments: segment_pb2_grpc.add_SegmentServiceServicer_to_server,
                Profiles: profile_pb2_grpc.add_ProfileServiceServicer_to_server,
                Collector: collector_pb2_grpc.add_CollectorServiceServicer_to_server,
                EventLog: eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
            }[type(servicer)]
            adder(servicer, server)
        state["port"] = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stop = asyncio.Event()
        state["loop"] = asyncio.get_running_loop()
        ready.set()
        await stop.wait()
        await server.stop(0)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"127.0.0.1:{state['port']}"
    finally:
        state["loop"].call_soon_threadsafe(stop.set)
        thread.join(10)


@pytest.fixture
def segments():
    return Segments(failures=2)


@pytest.fixture
def address(segments):
    with serving(segments, Profiles()) as address:
        yield address


@pytest.fixture
def segment(address):
    with grpc.insecure_channel(address) as channel:
        yield SegmentClient(channel, metadata=(("authorization", "Bearer t-1"),), timeout=5, retry=FAST)


def test_a_read_is_retried_on_unavailable_until_it_succeeds(segment, segments):
    assert [a.audience_id for a in segment.list_audiences()] == ["a-1"]
    assert segments.calls["ListAudiences"] == 3


def test_a_write_that_is_not_idempotent_is_tried_once(segment, segments):
    with pytest.raises(Unavailable) as raised:
        segment.create_audience("Pro", [])
    assert segments.calls["CreateAudience"] == 1
    assert (raised.value.code, raised.value.details) == ("UNAVAILABLE", "try again later")


def test_tries_are_bounded():
    failing = Segments(failures=100)
    with serving(failing) as other, grpc.insecure_channel(other) as channel, pytest.raises(Unavailable):
        SegmentClient(channel, retry=FAST).list_audiences()
    assert failing.calls["ListAudiences"] == FAST.tries


def test_backoff_grows_to_its_cap_with_jitter():
    retry = Retry(tries=10, first_backoff_s=0.1, max_backoff_s=0.4)
    for failed, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (8, 0.4)):
        pauses = {retry.backoff(failed) for _ in range(50)}
        assert all(ceiling / 2 <= p <= ceiling for p in pauses)
        assert len(pauses) > 1, "jittered"


def test_every_call_has_a_deadline_and_a_read_past_it_is_retried(address, segments):
    with grpc.insecure_channel(address) as channel:
        client = SegmentClient(channel, timeout=0.2, retry=Retry(tries=2, first_backoff_s=0.01))
        segments.failures = 0
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as raised:
            client.get_audience("slow")
        assert isinstance(raised.value, Unavailable)
        assert segments.calls["GetAudience"] == 2, "DEADLINE_EXCEEDED on a read is retried"
        assert time.monotonic() - started < 1.5
        # Overridden per call.
        assert client.get_audience("slow", timeout=5).audience_id == "slow"


def test_statuses_become_the_platforms_errors(segment, segments):
    segments.failures = 0
    cases = {
        "missing": NotFound,
        "bad": InvalidArgument,
        "denied": PermissionDenied,
        "who": Unauthenticated,
        "taken": Conflict,
        "bug": CallFailed,
    }
    for audience_id, kind in cases.items():
        with pytest.raises(kind):
            segment.get_audience(audience_id)
    with pytest.raises(InvalidArgument) as invalid:
        segment.get_audience("bad")
    assert (invalid.value.field, invalid.value.rule) == ("audience_id", "must be a uuid")
    with pytest.raises(PermissionDenied) as denied:
        segment.get_audience("denied")
    assert denied.value.decision_id == "d-123"
    assert denied.value.reasons == ["ana may not call GetAudience: needs one of the roles [analyst]"]
    assert str(denied.value) == denied.value.details, "the message is the server's"
    with pytest.raises(PermissionDenied) as trailer:
        segment.get_audience("denied-trailer")
    assert trailer.value.decision_id == "d-456", "from the cdp-decision-id trailing metadata"


def test_metadata_of_the_client_and_of_the_call(segment, segments):
    segments.failures = 0
    segment.list_audiences()
    segment.list_audiences(metadata=[("authorization", "Bearer t-2"), ("x-trace", "7")])
    first, second = segments.metadata[-2:]
    assert first["authorization"] == "Bearer t-1"
    assert (second["authorization"], second["x-trace"]) == ("Bearer t-2", "7")


def test_paging_walks_every_page(address):
    with grpc.insecure_channel(address) as channel:
        client = ProfileClient(channel)
        assert [p.person_id for p in client.all_profiles(page_size=3)] == list(Profiles.IDS)
        page = client.list_profiles(limit=3)
        assert (len(page.profiles), page.next_after) == (3, "p-2")


def test_the_async_twins_retry_map_errors_and_page(address, segments):
    async def main():
        async with grpc.aio.insecure_channel(address) as channel:
            segment = AsyncSegmentClient(channel, retry=FAST)
            assert [a.name for a in await segment.list_audiences()] == ["Pro"]
            assert segments.calls["ListAudiences"] == 3
            with pytest.raises(Unavailable):
                await segment.create_audience("Pro", [])
            assert segments.calls["CreateAudience"] == 1
            with pytest.raises(NotFound):
                await segment.get_audience("missing")
            profiles = AsyncProfileClient(channel)
            return [p.person_id async for p in profiles.all_profiles(page_size=2)]

    assert asyncio.run(main()) == list(Profiles.IDS)


def test_ingest_is_retried_on_unavailable_as_messageids_dedup_but_a_stream_is_not():
    collector = Collector()
    with serving(collector) as address, grpc.insecure_channel(address) as channel:
        client = CollectorClient(channel, retry=FAST)
        assert client.ingest("wk", [event_pb2.Event(message_id="m-1")]).accepted == 1
        assert collector.ingests == 3
        with pytest.raises(Unavailable):
            client.ingest_stream("wk", [[event_pb2.Event(message_id="m-2")]])
        assert collector.streams == 1


def test_the_event_log_reads_to_its_end_decodes_and_follows():
    log = EventLog(count=5)
    with serving(log) as address, grpc.insecure_channel(address) as channel:
        client = EventLogClient(channel)
        assert [n.id for n in client.read_all(page_size=2)] == [1, 2, 3, 4, 5]
        assert [n.id for n in client.read_all(after=3)] == [4, 5]
        messages = list(client.read_messages(eventlog_pb2.ReadRequest))
        assert [m.limit for m in messages] == [7] * 5
        followed = client.follow(after=4, wait_ms=100)
        assert next(followed).id == 5
        log.count = 6  # published while the follower waits
        assert next(followed).id == 6

    with serving(log) as address:

        async def read():
            async with grpc.aio.insecure_channel(address) as channel:
                return [n.id async for n in AsyncEventLogClient(channel).read_all(page_size=4)]

        assert asyncio.run(read()) == [1, 2, 3, 4, 5, 6]
