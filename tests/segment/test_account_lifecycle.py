"""The audience lifecycle with account-level audiences and account conditions, in process: a new
version of an account-level audience re-evaluates accounts (cause "updated", the new version), the
audiences using it follow in order, and the old version reads nothing more; an audience used by an
account quantifier cannot be archived, and an archived account-level audience exits its accounts;
a preview answers at either level and stores nothing; the history names the account; an audience
condition reads an audience of its own level only."""

from __future__ import annotations

import asyncio
import json

import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from cdp.segment.application import SegmentApp
from support.calls import event
from support.harness import MARKETER, Harness

TS = "2026-11-30T10:00:00Z"
LATER = "2026-11-30T11:00:00Z"
ADMIN = {"trait": "role", "op": "eq", "value": "admin"}
ADMIN_TRAITS = {"role": "admin"}
MEMBERSHIPS = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
STORED = topic_of(
    segment_pb2.AudienceCreated,
    segment_pb2.AudienceUpdated,
    segment_pb2.AudienceArchived,
    segment_pb2.MembershipEntered,
    segment_pb2.MembershipExited,
    segment_pb2.EventObserved,
)


def run(scenario):
    asyncio.run(scenario())


def plan(value: str) -> dict:
    return {"account_trait": "plan", "op": "eq", "value": value}


async def define(h: Harness, name: str, definition: dict, level: str = ""):
    return await h.segment.create_audience(
        name, [], MARKETER, definition_json=json.dumps(definition), level=level, purpose="marketing"
    )


async def accounts(h: Harness) -> dict[str, str]:
    """acme (pro, an admin), initech (free, a viewer) and globex (team, an admin); user -> person."""
    key = h.write_key()
    await h.ingest(
        key,
        [
            event("identify", "i1", TS, user_id="u1", traits={"role": "admin"}),
            event("group", "g1", TS, user_id="u1", group_id="acme", traits={"plan": "pro"}),
            event("identify", "i2", TS, user_id="u2", traits={"role": "viewer"}),
            event("group", "g2", TS, user_id="u2", group_id="initech", traits={"plan": "free"}),
            event("identify", "i3", TS, user_id="u3", traits={"role": "admin"}),
            event("group", "g3", TS, user_id="u3", group_id="globex", traits={"plan": "team"}),
        ],
    )
    await h.settle()
    return {u: h.identity.resolve("user_id", u) for u in ("u1", "u2", "u3")}


async def regroup(h: Harness, message_id: str, user: str, account: str, traits: dict) -> None:
    await h.ingest(
        h.write_key(message_id), [event("group", message_id, LATER, user_id=user, group_id=account, traits=traits)]
    )
    await h.settle()


def changes(h: Harness, audience_id: str) -> list[tuple[str, str, str, str, int]]:
    """(entered/exited, account_id, person_id, cause, version) of an audience's entries and exits."""
    out = []
    for n in h.stores["segment"].read(0, 10_000, MEMBERSHIPS):
        m = decode(n.topic, n.state)
        if m.audience_id == audience_id:
            kind = "entered" if isinstance(m, segment_pb2.MembershipEntered) else "exited"
            out.append((kind, m.account_id, m.person_id, m.cause, m.audience_version))
    return out


def test_an_update_of_an_account_level_audience_re_evaluates_accounts_with_cause_updated(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            await accounts(h)
            paid = await define(h, "Paid", plan("pro"), "account")
            uses = await define(h, "Uses paid", {"audience": paid.audience_id}, "account")
            assert h.segment.members(paid.audience_id) == h.segment.members(uses.audience_id) == ["acme"]

            updated = await h.segment.update_audience(
                paid.audience_id, MARKETER, definition_json=json.dumps({"any": [plan("team"), plan("free")]})
            )
            assert (updated.version, updated.level) == (2, "account")
            assert h.segment.members(paid.audience_id) == ["globex", "initech"]
            assert len(h.segment.truths.by_account_trait["plan"]) == 2  # the old version's leaf is gone
            assert changes(h, paid.audience_id) == [
                ("entered", "acme", "", "created", 1),
                ("exited", "acme", "", "updated", 2),
                ("entered", "globex", "", "updated", 2),
                ("entered", "initech", "", "updated", 2),
            ]
            # The audience using it follows in the same step, for the same cause.
            assert h.segment.members(uses.audience_id) == ["globex", "initech"]
            assert [c[:4] for c in changes(h, uses.audience_id)[1:]] == [
                ("exited", "acme", "", "updated"),
                ("entered", "globex", "", "updated"),
                ("entered", "initech", "", "updated"),
            ]

            # The new version follows account traits; the old one reads nothing more.
            await regroup(h, "g4", "u2", "initech", {"plan": "pro"})
            assert h.segment.members(paid.audience_id) == ["globex"]
            assert h.segment.members(uses.audience_id) == ["globex"]
            assert changes(h, paid.audience_id)[-1] == ("exited", "initech", "", "trait", 2)
            await regroup(h, "g5", "u1", "acme", {"plan": "free"})
            assert h.segment.members(paid.audience_id) == ["acme", "globex"]

            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.members(paid.audience_id) == ["acme", "globex"]
            assert again.audience(paid.audience_id).level == "account"

    run(scenario)


def test_an_audience_an_account_quantifier_uses_is_not_archived_and_an_archived_account_audience_exits_its_accounts(
    tmp_path,
):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await accounts(h)
            admins = await define(h, "Admins", ADMIN)
            with_admins = await define(
                h, "With admins", {"account": {"any": {"audience": admins.audience_id}}}, "account"
            )
            assert h.segment.members(admins.audience_id) == sorted([ids["u1"], ids["u3"]])
            assert h.segment.members(with_admins.audience_id) == ["acme", "globex"]

            with pytest.raises(PermissionDenied, match=f"used by the audiences \\[{with_admins.audience_id}\\]"):
                await h.segment.archive_audience(admins.audience_id, MARKETER)
            assert h.segment.audience(admins.audience_id).status == "active"

            archived = await h.segment.archive_audience(with_admins.audience_id, MARKETER)
            assert archived.status == "archived"
            assert h.segment.members(with_admins.audience_id) == []
            assert [c[:4] for c in changes(h, with_admins.audience_id)[2:]] == [
                ("exited", "acme", "", "archived"),
                ("exited", "globex", "", "archived"),
            ]
            assert with_admins.audience_id not in h.segment.truths.plans
            assert admins.audience_id not in h.segment.truths.by_audience  # what read it is gone
            # No longer evaluated: initech's viewer becoming an admin enters nobody.
            await h.ingest(h.write_key("more"), [event("identify", "i4", LATER, user_id="u2", traits=ADMIN_TRAITS)])
            await h.settle()
            assert h.segment.members(admins.audience_id) == sorted(ids.values())
            assert len(changes(h, with_admins.audience_id)) == 4
            paid = await define(h, "Paid", plan("pro"), "account")
            await h.segment.archive_audience(admins.audience_id, MARKETER)  # used by nothing active now
            # An audience created after archives is evaluated after every other.
            last = await define(h, "Uses paid", {"audience": paid.audience_id}, "account")
            created = h.segment.created
            assert sorted(created.values()) == list(range(len(created)))
            assert max(created, key=created.__getitem__) == last.audience_id
            assert h.segment.members(last.audience_id) == ["acme"]

    run(scenario)


def test_a_preview_answers_at_either_level_and_stores_nothing(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await accounts(h)
            before = len(h.stores["segment"].read(0, 10_000, STORED))
            paid = json.dumps({"any": [plan("pro"), plan("team")]})
            size, sample, decision_id = await h.segment.preview_audience(
                MARKETER, definition_json=paid, level="account", sample=1
            )
            assert (size, sample) == (2, ["acme"]) and decision_id
            size, sample, _ = await h.segment.preview_audience(
                MARKETER, definition_json=json.dumps({"account": {"all": ADMIN}}), level="account"
            )
            assert (size, sample) == (2, ["acme", "globex"])
            # A person-level preview over the person's accounts.
            size, sample, _ = await h.segment.preview_audience(MARKETER, definition_json=json.dumps(plan("free")))
            assert (size, sample) == (1, [ids["u2"]])
            with pytest.raises(InvalidArgument, match="an account-level audience reads persons only inside"):
                await h.segment.preview_audience(MARKETER, definition_json=json.dumps(ADMIN), level="account")
            assert len(h.stores["segment"].read(0, 10_000, STORED)) == before
            assert h.segment.audiences == {} and h.segment.truths.plans == {}

    run(scenario)


def test_an_audience_condition_reads_an_audience_of_its_own_level_only(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            await accounts(h)
            admins = await define(h, "Admins", ADMIN)
            paid = await define(h, "Paid", plan("pro"), "account")
            with pytest.raises(InvalidArgument, match=f"audience '{admins.audience_id}' is person-level"):
                await define(h, "Accounts of admins", {"audience": admins.audience_id}, "account")
            with pytest.raises(InvalidArgument, match=f"audience '{paid.audience_id}' is account-level"):
                await define(h, "Persons of paid", {"audience": paid.audience_id})
            with pytest.raises(InvalidArgument, match=f"audience '{paid.audience_id}' is account-level"):
                member = {"account": {"any": {"audience": paid.audience_id}}}
                await define(h, "Members of paid", member, "account")
            with pytest.raises(InvalidArgument, match=f"audience '{paid.audience_id}' is account-level"):
                await h.segment.update_audience(
                    admins.audience_id, MARKETER, definition_json=json.dumps({"audience": paid.audience_id})
                )
            # Inside a quantifier a member condition reads a person-level audience.
            ok = await define(h, "With admins", {"account": {"any": {"audience": admins.audience_id}}}, "account")
            assert h.segment.members(ok.audience_id) == ["acme", "globex"]
            assert len(h.segment.audiences) == 3
            # A new version of the person-level audience moves the accounts reading it, for the same cause.
            viewers = {"trait": "role", "op": "eq", "value": "viewer"}
            await h.segment.update_audience(admins.audience_id, MARKETER, definition_json=json.dumps(viewers))
            assert h.segment.members(ok.audience_id) == ["initech"]
            assert sorted(c[:4] for c in changes(h, ok.audience_id)[2:]) == [  # (in the members' order)
                ("entered", "initech", "", "updated"),
                ("exited", "acme", "", "updated"),
                ("exited", "globex", "", "updated"),
            ]

    run(scenario)


def test_the_history_of_an_account_level_audience_names_its_accounts(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await accounts(h)
            paid = await define(h, "Paid", plan("pro"), "account")
            await regroup(h, "g4", "u2", "initech", {"plan": "pro"})
            await h.segment.update_audience(paid.audience_id, MARKETER, definition_json=json.dumps(plan("free")))
            history, token = h.segment.membership_history(paid.audience_id)
            assert token == ""
            assert [(c.account_id, c.person_id, c.entered, c.cause, c.audience_version) for c in history] == [
                ("initech", "", False, "updated", 2),
                ("acme", "", False, "updated", 2),
                ("initech", "", True, "trait", 1),
                ("acme", "", True, "created", 1),
            ]
            of_acme, _ = h.segment.membership_history(account_id="acme")
            assert [(c.audience_id, c.entered) for c in of_acme] == [
                (paid.audience_id, False),
                (paid.audience_id, True),
            ]
            pair, _ = h.segment.membership_history(paid.audience_id, account_id="initech", page_size=1)
            assert [(c.account_id, c.cause) for c in pair] == [("initech", "updated")]
            # A person's history holds none of it; and one of them is asked for at a time.
            assert h.segment.membership_history(person_id=ids["u1"])[0] == []
            with pytest.raises(InvalidArgument, match="account_id"):
                h.segment.membership_history(person_id=ids["u1"], account_id="acme")
            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.membership_history(account_id="acme")[0] == of_acme

    run(scenario)
