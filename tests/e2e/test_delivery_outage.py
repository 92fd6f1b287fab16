"""End to end: deliveries that survive outages. Real processes, real HTTP receivers on loopback
(aiohttp), short retry settings per destination (a 60 s window, backoff at most 1 s).

While audiences change: one receiver is down (refusing connections) for 10 s, another answers 503
with Retry-After; afterwards each received every membership change exactly once by delivery id, in
order per person, and nothing was dead-lettered. The same with activation killed (kill -9) three
times meanwhile. A destination answering in 2 s does not hold back a fast one; 410 disables, 400
dead-letters at once, a replay sends again under the same id; an upsert sync sends a member's new
mapped email and nothing for a trait it does not map.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import statistics
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime

import pytest

from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.segment.v1 import segment_pb2
from cdp.client import CdpError
from cdp.platform.published import decode, topic_of
from support.aiohttp_receiver import Receiver
from support.calls import event, trait_condition
from support.governance import run_cli
from support.platform_fixture import Client, log_tails, running_platform, wait_until

pytestmark = pytest.mark.e2e

MEMBERSHIP_TOPICS = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
QUICK = pb.DestinationSettings(retry_window_s=60, max_backoff_s=1)
SECONDS = itertools.count()
CONSENT = {"consent": {"categoryPreferences": {"analytics": True, "marketing": True}}}


def identify(user: str, **traits) -> object:
    n = next(SECONDS)  # every call later than the one before: a trait's newest value wins
    ts = f"2024-05-{1 + n // 86400:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
    # Every person agrees to analytics (the webhooks' purpose) and marketing, as Segment's SDK says it.
    return event("identify", f"{user}-{n}", ts, user_id=user, traits=traits, context=CONSENT)


def marketer(client: Client):
    return client.platform.metadata("mia@example.com", ["marketer"])


def audience(client: Client, name: str, plan: str) -> segment_pb2.Audience:
    conditions = [trait_condition("plan", "eq", plan)]
    return client.segment.create_audience(name, conditions, purpose="marketing", metadata=marketer(client), timeout=30)


def webhook(client: Client, name: str, url: str, audience_id: str, settings=QUICK, purpose="analytics"):
    return client.activation.create_destination(name, url, purpose, [audience_id], settings=settings, timeout=30)


def changes_of(client: Client, audience_id: str) -> dict[str, list[str]]:
    """Segment's membership changes of an audience, per person, in its log's order."""
    out: dict[str, list[str]] = defaultdict(list)
    for n in client.read_log("segment", MEMBERSHIP_TOPICS, timeout=30):
        message = decode(n.topic, n.payload)
        if message.audience_id == audience_id:
            entered = isinstance(message, segment_pb2.MembershipEntered)
            out[message.person_id].append("audience.entered" if entered else "audience.exited")
    return dict(out)


def toggle(client: Client, source, users: list[str], plans: list[str], pause_s: float = 0.4) -> None:
    """Each user's plan goes through plans, one round for all users at a time."""
    for plan in plans:
        response = client.ingest(source.write_key, [identify(u, plan=plan, score=len(u)) for u in users])
        assert response.accepted == len(users), response
        time.sleep(pause_s)


def settled(client: Client, destination_id: str, audience_id: str, receiver: Receiver, timeout: float):
    """Wait until the destination has a delivery of every membership change, all delivered and
    received; returns (changes per person, deliveries)."""

    def done():
        expected = changes_of(client, audience_id)
        deliveries = client.activation.list_deliveries(destination_id, limit=100_000, timeout=10)
        count = sum(len(v) for v in expected.values())
        received = {g.delivery_id for g in receiver.got()}
        if (
            len(deliveries) == count
            and all(d.status == "delivered" for d in deliveries)
            and {d.delivery_id for d in deliveries} <= received
        ):
            return expected, deliveries
        return None

    return wait_until(done, timeout=timeout, interval=0.5, what=f"every change delivered to {destination_id}")


def check_exactly_once_in_order(expected, deliveries, receiver: Receiver, duplicates_allowed: bool = False):
    got = receiver.got()
    ids = Counter(g.delivery_id for g in got)
    assert set(ids) == {d.delivery_id for d in deliveries}
    if not duplicates_allowed:
        assert max(ids.values()) == 1, [i for i, c in ids.items() if c > 1]
    first: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for g in got:  # in arrival order: a person's deliveries go one after the other
        if g.delivery_id not in seen:
            seen.add(g.delivery_id)
            first[g.body["person_id"]].append(g.body["type"])
    assert dict(first) == expected


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("delivery")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


@pytest.fixture(scope="module")
def source(client):
    return client.create_source("delivery-e2e", server_side=True)


def test_an_outage_and_retry_after_lose_nothing_and_keep_each_persons_order(client, source):
    with Receiver() as down, Receiver() as throttled:
        pro = audience(client, "Outage pro", "outage-pro")
        a = webhook(client, "down for 10 s", down.url(), pro.audience_id)
        b = webhook(client, "503 Retry-After", throttled.url(), pro.audience_id)
        assert (a.retry_window_s, a.max_backoff_s) == (60, 1)
        down.down()
        throttled.status, throttled.retry_after = 503, "1"
        began = time.monotonic()
        users = [f"outage-{k}" for k in range(10)]
        toggle(client, source, users, ["outage-pro", "free", "outage-pro", "free", "outage-pro"])
        time.sleep(max(0.0, 6 - (time.monotonic() - began)))
        throttled.status = 200
        time.sleep(max(0.0, 10 - (time.monotonic() - began)))
        down.up()
        for destination, receiver in ((a, down), (b, throttled)):
            expected, deliveries = settled(client, destination.destination_id, pro.audience_id, receiver, 90)
            assert sum(len(v) for v in expected.values()) == 50
            check_exactly_once_in_order(expected, deliveries, receiver)
            assert client.activation.list_dead_letters(destination.destination_id, timeout=10) == []
        # The throttled destination was asked again after its Retry-After (1 s), not sooner.
        asked: dict[str, list[float]] = defaultdict(list)
        for delivery_id, _, at in throttled.answered:
            asked[delivery_id].append(at)
        gaps = [b - a for times in asked.values() for a, b in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 0.9, sorted(gaps)[:5]
        attempts = [a for d in deliveries for a in d.attempt_list]
        assert all(a.http_status in (0, 200, 503) for a in attempts)


def wait_times(client: Client, receiver: Receiver, destination_id: str) -> list[float]:
    """Seconds from each delivery's scheduling to its arrival, sorted."""
    deliveries = {d.delivery_id: d for d in client.activation.list_deliveries(destination_id, 1000, timeout=10)}
    scheduled = {i: datetime.fromisoformat(d.scheduled_at).timestamp() for i, d in deliveries.items()}
    return sorted(g.at - scheduled[g.delivery_id] for g in receiver.got())


def p99(waits: list[float]) -> float:
    return waits[int(0.99 * (len(waits) - 1))]


def test_a_slow_destination_does_not_move_a_fast_ones_p99(client, source):
    with Receiver() as slow, Receiver() as fast, Receiver() as alone:
        # The fast destination's latency alone, then beside one that answers in 2 s.
        solo = audience(client, "Fast alone", "fastalone")
        alone_hook = webhook(client, "fast alone", alone.url(), solo.audience_id)
        toggle(client, source, [f"fastalone-{k}" for k in range(40)], ["fastalone"], pause_s=0)
        alone.wait(lambda got: len(got) == 40, timeout=30, what="the fast destination's 40 alone")
        baseline = p99(wait_times(client, alone, alone_hook.destination_id))

        team = audience(client, "Slow and fast", "slowfast")
        slow.delay_s = 2.0
        slow_hook = webhook(client, "slow", slow.url(), team.audience_id)
        fast_hook = webhook(client, "fast", fast.url(), team.audience_id)
        toggle(client, source, [f"slowfast-{k}" for k in range(40)], ["slowfast"], pause_s=0)
        fast.wait(lambda got: len(got) == 40, timeout=30, what="the fast destination's 40")
        assert len(slow.got()) < 40, "the slow one is still at work"
        beside = wait_times(client, fast, fast_hook.destination_id)
        assert p99(beside) < max(1.0, 2 * baseline), (
            f"fast p99 {p99(beside):.2f}s beside the slow one, {baseline:.2f}s alone "
            f"(median {statistics.median(beside):.2f}s)"
        )
        # The slow one gets there too, 32 at a time (its own concurrency).
        slow.wait(lambda got: len(got) == 40, timeout=60, what="the slow destination's 40")
        assert client.activation.get_destination(slow_hook.destination_id).concurrency == 32


def test_410_disables_400_dead_letters_at_once_and_replay_sends_the_same_id(client, source, platform):
    with Receiver() as hook:
        gold = audience(client, "Gold", "gold")
        destination = webhook(client, "gold hook", hook.url(), gold.audience_id)
        did = destination.destination_id
        hook.status = 400
        toggle(client, source, ["gold-1"], ["gold"], pause_s=0)
        [dead] = wait_until(lambda: client.activation.list_dead_letters(did), timeout=30, what="a dead letter")
        time.sleep(2)
        assert [s for _, s, _ in hook.answered] == [400], "not retried"
        assert dead.attempts == 1 and dead.attempt_list[0].http_status == 400
        logged = [
            line
            for line in platform.log_path("activation").read_text().splitlines()
            if f"delivery dead-lettered: delivery={dead.delivery_id}" in line
        ]
        assert len(logged) == 1 and f"destination={did}" in logged[0] and "status=400" in logged[0], logged
        assert dead.person_id not in logged[0]  # ids of the delivery and destination only
        shown = run_cli(platform, "destination", "dead-letters", did)
        assert shown.returncode == 0 and dead.delivery_id in shown.stdout and "status 400" in shown.stdout, shown

        hook.status = 200
        replayed = run_cli(platform, "destination", "replay", did, "--delivery", dead.delivery_id)
        assert replayed.returncode == 0 and dead.delivery_id in replayed.stdout, replayed
        [again] = hook.wait(lambda got: len(got) == 1, timeout=20, what="the replay")
        assert again.delivery_id == dead.delivery_id == again.body["delivery_id"]
        assert dead.delivery_id in [r.delivery_id for r in client.read_messages("activation", pb.DeliveryReplayed)]

        # 410: the destination is disabled; what follows waits until it is resumed.
        hook.status = 410
        toggle(client, source, ["gold-2"], ["gold"], pause_s=0)
        wait_until(lambda: client.activation.get_destination(did).status == "disabled", timeout=30, what="disabled")
        assert [m.destination_id for m in client.read_messages("activation", pb.DestinationDisabled)] == [did]
        hook.status = 200
        toggle(client, source, ["gold-3"], ["gold"], pause_s=0)
        time.sleep(2)
        assert len(hook.got()) == 1, "nothing is sent to a disabled destination"
        resumed = run_cli(platform, "destination", "resume", did)
        assert resumed.returncode == 0 and "active" in resumed.stdout, resumed
        hook.wait(lambda got: len(got) == 3, timeout=30, what="both after resume")

        def listed_delivered():  # a success is stored once the destination answered: a moment after
            listed = run_cli(platform, "destination", "deliveries", did, "--status", "delivered")
            assert listed.returncode == 0, listed
            return listed if listed.stdout.count("delivered after") == 3 else None

        listed = wait_until(listed_delivered, timeout=20, what="three deliveries listed as delivered")
        assert "#1 (series 1)" in listed.stdout and "HTTP 410" in listed.stdout, listed.stdout


def test_upsert_sends_a_members_new_mapped_email_and_nothing_for_an_unmapped_trait(client, source, platform):
    with Receiver() as hook:
        vip = audience(client, "VIP", "vip")
        destination = client.activation.create_destination("crm", hook.url(), "support", [], settings=QUICK, timeout=30)
        made = run_cli(
            platform,
            "sync",
            "create",
            destination.destination_id,
            vip.audience_id,
            "--mode",
            "upsert",
            "--field",
            "email=Email",
            "--field",
            "plan",
            "--const",
            "list=vip-list",
        )
        assert made.returncode == 0 and "upsert" in made.stdout, made
        client.approve_syncs()  # its records hold an email: four eyes
        client.ingest(source.write_key, [identify("vip-1", plan="vip", email="vip@example.com", score=1)])
        [first] = hook.wait(lambda got: len(got) == 1, timeout=30, what="the first record")
        assert first.body["type"] == "profile.upsert"
        assert first.body["traits"] == {"Email": "vip@example.com", "plan": "vip", "list": "vip-list"}
        client.ingest(source.write_key, [identify("vip-1", score=2)])
        time.sleep(3)
        assert len(hook.got()) == 1, "an unmapped trait's change sends nothing"
        client.ingest(source.write_key, [identify("vip-1", email="vip@new.example")])
        got = hook.wait(lambda got: len(got) == 2, timeout=30, what="the new email")
        assert got[1].body["traits"]["Email"] == "vip@new.example"
        assert got[1].delivery_id != first.delivery_id
        listed = run_cli(platform, "sync", "list", "--destination", destination.destination_id)
        assert listed.returncode == 0 and "email->Email" in listed.stdout, listed


def test_activation_killed_three_times_during_an_outage_loses_nothing(tmp_path):
    with running_platform(tmp_path / "killed") as platform, Client(platform) as client, Receiver() as hook:
        source = client.create_source("kill-e2e", server_side=True)
        pro = audience(client, "Killed pro", "kpro")
        destination = webhook(client, "down and killed", hook.url(), pro.audience_id)
        hook.down()
        users = [f"killed-{k}" for k in range(10)]
        began = time.monotonic()
        failed: list[BaseException] = []

        def killer() -> None:
            try:
                for _ in range(3):
                    time.sleep(1.5)
                    platform.kill("activation")
                    platform.start("activation")
                    platform.wait_healthy(["activation"], timeout=60)
                    client.reconnect("activation")
            except BaseException as error:  # reported below
                failed.append(error)

        thread = threading.Thread(target=killer, name="activation-killer")
        thread.start()
        toggle(client, source, users, ["kpro", "free", "kpro", "free", "kpro"], pause_s=0.8)
        thread.join()
        assert not failed, f"{failed}\n{log_tails(platform)}"
        time.sleep(max(0.0, 10 - (time.monotonic() - began)))
        hook.up()
        expected, deliveries = settled(client, destination.destination_id, pro.audience_id, hook, 120)
        assert sum(len(v) for v in expected.values()) == 50
        check_exactly_once_in_order(expected, deliveries, hook, duplicates_allowed=True)
        assert client.activation.list_dead_letters(destination.destination_id, timeout=10) == []
        assert client.read_messages("activation", pb.DeliveryDeadLettered) == []


def test_the_cli_edits_pauses_and_deletes_and_never_shows_the_secret(client, source, platform):
    secret = "whsec_" + base64.b64encode(b"the cli hook's own signing key").decode()

    def cdp(*args: str, ok: bool = True) -> str:
        done = run_cli(platform, *args)
        assert (done.returncode == 0) == ok, done
        assert secret not in done.stdout + done.stderr
        return done.stdout + done.stderr

    with Receiver() as hook:
        members = audience(client, "Cli", "cli")
        created = cdp(
            "destination", "create", "cli hook", "--url", hook.url(), "--purpose", "analytics",
            "--secret", secret, "--retry-window", "60", "--max-backoff", "1", "--concurrency", "2",
        )  # fmt: skip
        assert "secrets set: secret" in created and "concurrency 2" in created
        did = created.split()[0]
        sid = cdp("sync", "create", did, members.audience_id, "--mode", "membership").split()[0]

        client.ingest(source.write_key, [identify("cli-1", plan="cli")])
        [first] = hook.wait(lambda got: len(got) == 1, timeout=30, what="the first entry")
        signed = f"{first.delivery_id}.{first.headers['webhook-timestamp']}.".encode()
        key = base64.b64decode(secret.removeprefix("whsec_"))
        assert first.headers["webhook-signature"] == (
            "v1," + base64.b64encode(hmac.new(key, signed + first.raw, hashlib.sha256).digest()).decode()
        )
        assert first.delivery_id in cdp("destination", "attempts", first.delivery_id)

        # A paused destination keeps its deliveries and sends them when resumed.
        assert " paused" in cdp("destination", "pause", did)
        client.ingest(source.write_key, [identify("cli-2", plan="cli")])
        time.sleep(2)
        assert len(hook.got()) == 1
        cdp("destination", "resume", did)
        hook.wait(lambda got: len(got) == 2, timeout=30, what="the entry held while paused")

        edited = cdp("destination", "edit", did, "--name", "renamed hook", "--rate", "5")
        assert (
            "renamed hook" in edited and " v2 " in edited and "rate 5/s" in edited and "secrets set: secret" in edited
        )

        # A paused sync sends the difference when resumed.
        assert " paused" in cdp("sync", "pause", sid)
        client.ingest(source.write_key, [identify("cli-3", plan="cli")])
        time.sleep(2)
        assert len(hook.got()) == 2
        cdp("sync", "resume", sid)
        hook.wait(lambda got: len(got) == 3, timeout=30, what="the difference after the sync's pause")
        assert " v2 " in cdp("sync", "edit", sid, "--field", "plan")
        assert "plan->plan" in cdp("sync", "show", sid)

        assert "syncs" in cdp("destination", "delete", did, ok=False)
        cdp("sync", "delete", sid)
        cdp("destination", "delete", did)
        assert did not in cdp("destination", "list")
        for shown in client.activation.list_destinations(timeout=10):
            assert secret not in str(shown)


def test_bad_requests_are_refused_by_field_and_change_nothing(client):
    api = client.activation
    before = (len(api.list_destinations(timeout=10)), len(api.list_syncs(timeout=10)))
    for call in (
        lambda: api.get_destination("nope", timeout=10),
        lambda: api.update_destination("nope", name="x", timeout=10),
        lambda: api.pause_destination("", timeout=10),
        lambda: api.resume_destination("nope", timeout=10),
        lambda: api.delete_destination("nope", timeout=10),
        lambda: api.list_dead_letters("nope", timeout=10),
        lambda: api.replay_deliveries("nope", timeout=10),
        lambda: api.get_sync("nope", timeout=10),
        lambda: api.update_sync("nope", mode="upsert", timeout=10),
        lambda: api.pause_sync("", timeout=10),
        lambda: api.delete_sync("nope", timeout=10),
    ):
        with pytest.raises(CdpError) as refused:
            call()
        assert refused.value.code == "NOT_FOUND", refused.value

    def invalid(call, field: str) -> None:
        with pytest.raises(CdpError) as refused:
            call()
        assert refused.value.code == "INVALID_ARGUMENT" and str(refused.value).startswith(f"{field}:"), refused.value

    invalid(lambda: api.create_sync("nope", "x", timeout=10), "destination_id")
    bad = pb.DestinationSettings(concurrency=-2)
    invalid(
        lambda: api.create_destination("x", "http://127.0.0.1:1/", "analytics", settings=bad), "settings.concurrency"
    )
    invalid(lambda: api.create_destination("x", "gopher://x", "analytics", settings=QUICK), "url")
    secretly = pb.DestinationSettings(secrets={"password": "p"})
    invalid(
        lambda: api.create_destination("x", "http://h/", "analytics", settings=secretly), "settings.secrets.password"
    )
    made = api.create_destination("for bad syncs", "http://127.0.0.1:1/", "analytics", settings=QUICK, timeout=10)
    invalid(lambda: api.create_sync(made.destination_id, "x", "sometimes", timeout=10), "mode")
    duplicate = pb.Mapping(fields=[pb.FieldMapping(trait="a", to="x"), pb.FieldMapping(trait="b", to="x")])
    invalid(lambda: api.create_sync(made.destination_id, "x", "upsert", duplicate, timeout=10), "mapping.fields[1].to")
    invalid(lambda: api.create_sync(made.destination_id, "no-such-audience", timeout=10), "audience_id")
    invalid(lambda: api.replay_deliveries(made.destination_id, ["nope"], timeout=10), "delivery_ids[0]")
    assert len(api.list_syncs(timeout=10)) == before[1]
    assert len(api.list_destinations(timeout=10)) == before[0] + 1
