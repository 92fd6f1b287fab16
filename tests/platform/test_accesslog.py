"""The access log's group commit on a real store: concurrent reads share one transaction, each is
answered only once its record is stored (a failed commit fails the reads), records chain after the
decisions they point to, and a service restarted on the store continues the same chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.audit.access import since_time
from cdp.audit.records import CHAIN, Link, chain_breaks
from cdp.platform.accesslog import AccessLog, Read, purpose_of, revealed
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, Unavailable
from cdp.platform.published import decode
from cdp.platform.store import open_store
from cdp.platform.vault import is_token
from support.kernel import unit_of_work

READER = Caller("ana@example.com", ("admin",), "user", decision_id="d" * 64, pii_clear=True, method="/x.v1.S/Get")
TOKEN = "pii:v1:k1:" + "A" * 40


@pytest.fixture
def store(store_config):
    s = open_store(store_config, "reads")
    yield s
    s.close()


def chain(store) -> list[Link]:
    return [Link("reads", n.id, decode(n.topic, n.state)) for n in store.read(0, 10_000, CHAIN)]  # type: ignore[arg-type]


def counting_appends(store) -> list[int]:
    appends: list[int] = []
    append = store.append

    def counted(events, **kwargs):
        appends.append(len(events))
        return append(events, **kwargs)

    store.append = counted
    return appends


def test_concurrent_reads_share_one_transaction_and_each_is_recorded(store):
    async def scenario():
        uow = unit_of_work(store)
        log = AccessLog(uow, "reads")
        appends = counting_appends(store)
        await asyncio.gather(
            *(log.record(READER, [Read(f"p-{i}", ["traits.email"])], purpose="support") for i in range(50))
        )
        assert appends == [50], "one transaction for the 50 reads of one turn"
        records = [link.record for link in chain(store)]
        assert [r.person_id for r in records] == [f"p-{i}" for i in range(50)]
        assert all(isinstance(r, decision_pb2.AccessRecorded) for r in records)
        first = records[0]
        assert (first.caller, list(first.roles), first.caller_kind) == ("ana@example.com", ["admin"], "user")
        assert (first.operation, first.purpose, first.decision_id, first.service) == (
            "/x.v1.S/Get",
            "support",
            "d" * 64,
            "reads",
        )
        assert chain_breaks(chain(store)) == []

        # The same read again is recorded again; a read that showed nothing in clear is not.
        await log.record(READER, [Read("p-0", ["traits.email"]), Read("p-1", [])])
        assert [link.record.person_id for link in chain(store)][-2:] == ["p-49", "p-0"]
        assert chain(store)[-1].record.purpose == "Get"  # none stated: the operation's name
        assert appends == [50, 1]

    asyncio.run(scenario())


def test_a_read_whose_record_is_not_stored_fails(store):
    async def scenario():
        uow = unit_of_work(store)
        log = AccessLog(uow, "reads")

        def broken(events, **kwargs):
            raise OSError("disk full")

        append, store.append = store.append, broken
        results = await asyncio.gather(
            *(log.record(READER, [Read(f"p-{i}", ["traits.email"])]) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, Unavailable) and "disk full" in str(r) for r in results), results
        store.append = append
        assert chain(store) == []
        await log.record(READER, [Read("p-9", ["traits.email"])])
        assert [link.record.person_id for link in chain(store)] == ["p-9"]

    asyncio.run(scenario())


def test_records_chain_after_the_decisions_and_a_restart_continues_the_chain(store, store_config):
    async def scenario():
        uow = unit_of_work(store)
        question = {"destination": {"id": "d1", "type": "webhook", "purpose": "analytics"}, "properties": ["plan"]}
        decision = uow.decider.decide("data.cdp.egress.decision", question)
        await AccessLog(uow, "reads").record(READER, [Read("p-1", ["traits.email"])], decision_id=decision.id)
        kinds = [type(link.record).__name__ for link in chain(store)]
        assert kinds[-2:] == ["DecisionRecorded", "AccessRecorded"]
        assert chain(store)[-1].record.decision_id == decision.id

        again = open_store(store_config, "reads")
        try:
            await AccessLog(unit_of_work(again), "reads").record(READER, [Read("p-2", ["traits.email"])])
            links = chain(again)
        finally:
            again.close()
        assert [link.record.sequence for link in links] == list(range(1, len(links) + 1))
        assert chain_breaks(links) == []
        links[-2].record.caller = "someone-else"
        assert [p for p in chain_breaks(links) if "access record" in p and "was edited" in p]

    asyncio.run(scenario())


def test_revealed_lists_the_paths_shown_in_clear_at_any_depth():
    stored = {
        "email": TOKEN,
        "plan": "pro",
        "contact": {"phone": TOKEN},
        "addresses": [{"street": TOKEN}, {"street": TOKEN}],
    }
    shown = {
        "email": "a@x.io",
        "plan": "pro",
        "contact": {"phone": "***"},
        "addresses": [{"street": "1 Rd"}, {"street": None}],
    }
    assert is_token(TOKEN)
    assert list(revealed(stored, shown, "traits")) == ["traits.email", "traits.addresses[].street"]
    assert list(revealed(TOKEN, None, "traits.email")) == []  # erased
    assert list(revealed(TOKEN, TOKEN, "traits.email")) == []  # still sealed


def test_revealed_names_the_url_parameters_shown_in_clear():
    sealed_param = TOKEN.replace(":", "%3A")
    stored = {"url": f"https://x.io/p?email={sealed_param}&utm=mail#/r?phone={sealed_param}", "page": "/p"}
    shown = {"url": "https://x.io/p?email=a%40x.io&utm=mail#/r?phone=%2A%2A%2A", "page": "/p"}
    assert list(revealed(stored, shown, "context.page")) == ["context.page.url?email"]
    assert list(revealed(stored, stored, "context.page")) == []  # still sealed


def test_a_purpose_is_a_short_label_or_the_operation():
    assert purpose_of("", "/cdp.profile.v1.ProfileService/GetProfile") == "GetProfile"
    assert purpose_of(" gdpr-art15 ", "/x/Y") == "gdpr-art15"
    for bad in ("ana@example.com", "Support Ticket", "x" * 65):
        with pytest.raises(InvalidArgument) as raised:
            purpose_of(bad, "/x/Y")
        assert raised.value.field == "purpose"


def test_since_takes_iso_times_and_spans_back_from_now():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert since_time("1h", now) == "2026-12-01T11:00:00.000Z"
    assert since_time("1h30m", now) == "2026-12-01T10:30:00.000Z"
    assert since_time("2d", now) == "2026-11-29T12:00:00.000Z"
    assert since_time("2026-12-01T09:00:00+01:00", now) == "2026-12-01T08:00:00.000Z"
    assert since_time("", now) == ""
    with pytest.raises(ValueError):
        since_time("yesterday", now)
