"""Accounts and timelines through the real platform (five processes, real gRPC, the real CLI).

Two users of one company share the account's traits; `cdp account members` pages its members with a
count; a merge moves a membership to the survivor; `cdp profile events` lists a person's calls
newest first with their context, masked for a marketer and clear for an admin (a read the access
log records), paged without gaps or repeats while calls arrive, and erased after `cdp forget`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdp.api.profile.v1 import profile_pb2
from support.calls import event, ident
from support.governance import ingest_accepted, platform_on, profile_by, run_cli
from support.platform_fixture import Client, wait_until

pytestmark = pytest.mark.e2e

EMAIL = "ada-timeline@example.com"
ADMIN, MARKETER = "root@corp.example", "mia@corp.example"
CONTEXT = {
    "campaign": {"name": "winter-sale", "source": "newsletter"},
    "page": {"url": "https://shop.example/pricing?utm_campaign=winter-sale"},
    "device": {"type": "mobile"},
    "locale": "fr-FR",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(request, tmp_path_factory):
    data_dir: Path = tmp_path_factory.mktemp("accounts-timeline") / "data"
    with platform_on(request.param, data_dir) as running, Client(running) as client:
        source = client.create_source("accounts-e2e", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event(
                    "group",
                    "at-g1",
                    "2026-11-01T10:00:00Z",
                    user_id="u-acme-1",
                    group_id="acme",
                    traits={"plan": "enterprise", "industry": "retail"},
                ),
                event("group", "at-g2", "2026-11-01T10:05:00Z", user_id="u-acme-2", group_id="acme"),
                event("group", "at-g3", "2026-11-01T10:06:00Z", user_id="u-acme-3", group_id="acme"),
                event("identify", "at-i1", "2026-11-01T11:00:00Z", user_id="u-ada", traits={"email": EMAIL}),
                event(
                    "page",
                    "at-p1",
                    "2026-11-01T11:01:00Z",
                    user_id="u-ada",
                    name="Pricing",
                    properties={"plan": "pro", "contact": {"email": EMAIL}},
                    context=CONTEXT,
                ),
                event("track", "at-t1", "2026-11-01T11:02:00Z", user_id="u-ada", event="Checkout Started"),
            ],
        )
        yield running, client, source


def cli(platform, *args: str, roles=("admin",), subject=ADMIN):
    role_args = [a for r in roles for a in ("--role", r)]
    result = run_cli(platform, *args, "--subject", subject, *role_args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_two_users_of_a_company_share_its_traits_and_members_are_listed_with_a_count(platform):
    running, client, _ = platform
    marketer = running.metadata(MARKETER, ["marketer"])

    def second_user_sees_the_company():
        profile = profile_by(client, "user_id", "u-acme-2", metadata=marketer)
        traits = {n: json.loads(t.value) for a in profile.accounts for n, t in a.traits.items()}
        assert traits == {"plan": "enterprise", "industry": "retail"}, traits
        return traits

    wait_until(second_user_sees_the_company, timeout=30, what="the second user's account traits")
    shown = json.loads(cli(running, "account", "get", "acme", "--json", roles=("marketer",)).stdout)
    assert shown["groupId"] == "acme" and shown["memberCount"] == "3"
    assert json.loads(shown["traits"]["plan"]["value"]) == "enterprise" and shown["traits"]["plan"]["eventId"]
    members = cli(running, "account", "members", "acme", roles=("analyst",))
    expected = sorted(profile_by(client, "user_id", u).person_id for u in ("u-acme-1", "u-acme-2", "u-acme-3"))
    assert members.stdout.split() == expected and "3 members" in members.stderr
    first = client.profile.list_account_members("acme", page_size=2, timeout=10)
    rest = client.profile.list_account_members("acme", page_size=2, page_token=first.next_page_token, timeout=10)
    assert (first.total, rest.total) == (3, 3) and [*first.person_ids, *rest.person_ids] == expected
    assert not rest.next_page_token
    # Published on profile's log for followers (account audiences).
    changed = client.read_messages("profile", profile_pb2.AccountChanged)
    joined = client.read_messages("profile", profile_pb2.AccountMembershipChanged)
    assert {c.account.group_id for c in changed} >= {"acme"}
    assert sorted(j.person_id for j in joined if j.account_id == "acme" and j.member) == expected
    unknown = run_cli(running, "account", "get", "no-such-account", "--subject", ADMIN, "--role", "admin")
    assert unknown.returncode != 0 and "no account no-such-account" in unknown.stderr


def test_a_merge_moves_the_membership_and_the_timeline_to_the_survivor(platform):
    _, client, source = platform
    ingest_accepted(
        client,
        source,
        [
            event("group", "at-m1", "2026-11-02T09:00:00Z", anonymous_id="a-merge", group_id="globex"),
            event("track", "at-m2", "2026-11-02T09:01:00Z", user_id="u-merge", event="Signed Up"),
        ],
    )
    anonymous = wait_until(
        lambda: profile_by(client, "anonymous_id", "a-merge").person_id, timeout=30, what="the anonymous profile"
    )
    wait_until(lambda: client.profile.list_account_members("globex", timeout=10).person_ids == [anonymous], timeout=30)
    ingest_accepted(
        client, source, [event("identify", "at-m3", "2026-11-02T09:02:00Z", user_id="u-merge", anonymous_id="a-merge")]
    )
    survivor = wait_until(
        lambda: (p := profile_by(client, "user_id", "u-merge")).merged_person_ids and p.person_id,
        timeout=30,
        what="the merge",
    )
    wait_until(lambda: client.profile.list_account_members("globex", timeout=10).person_ids == [survivor], timeout=30)
    timeline = client.profile.list_events(anonymous, timeout=10)  # the merged id finds the survivor
    assert timeline.person_id == survivor
    assert [(e.type, e.event) for e in timeline.events] == [("identify", ""), ("track", "Signed Up"), ("group", "")]


def test_the_timeline_is_newest_first_with_context_masked_or_clear_and_erased_after_forget(platform):
    running, client, source = platform
    wait_until(
        lambda: len(client.profile.list_events(identifier=ident("user_id", "u-ada"), timeout=10).events) == 3,
        timeout=30,
        what="the timeline",
    )
    masked = [
        json.loads(line)
        for line in cli(
            running, "profile", "events", "--user-id", "u-ada", "--json", roles=("marketer",), subject=MARKETER
        ).stdout.splitlines()
    ]
    assert [e["type"] for e in masked] == ["track", "page", "identify"]
    page = masked[1]
    assert page["masked"] and json.loads(page["properties"]) == {"plan": "pro", "contact": {"email": "***"}}
    context = json.loads(page["context"])
    assert context["campaign"]["name"] == "winter-sale" and context["page"]["url"] == CONTEXT["page"]["url"]
    assert context["device"]["type"] == "mobile" and context["locale"] == "fr-FR"
    assert EMAIL not in json.dumps(masked)
    shown = cli(
        running, "profile", "events", "--user-id", "u-ada", "--limit", "2", "--purpose", "support-ticket"
    ).stdout
    assert EMAIL in shown and "Checkout Started" in shown and "identify" not in shown
    person = profile_by(client, "user_id", "u-ada").person_id
    audit = run_cli(running, "audit", "access", "--json", "--person", person)
    assert audit.returncode == 0, audit.stderr + audit.stdout
    rows = json.loads(audit.stdout)
    # The test's own waiting reads were an admin's too (purpose: the operation); the CLI's stated one.
    reads = [r for r in rows if r["operation"] == "/cdp.profile.v1.ProfileService/ListEvents"]
    assert {r["purpose"] for r in reads} == {"ListEvents", "support-ticket"}
    [read] = [r for r in reads if r["purpose"] == "support-ticket"]
    assert read["caller"] == ADMIN and read["roles"] == ["admin"]
    assert read["fields"] == ["events[].properties.contact.email"]

    # Paged two at a time while newer calls arrive: each call of the first listing once, in order.
    before = [e.event_id for e in client.profile.list_events(person, page_size=100, timeout=10).events]
    seen, token = [], ""
    for i in range(10):
        page_ = client.profile.list_events(person, page_size=2, page_token=token, timeout=10)
        seen += [e.event_id for e in page_.events]
        ingest_accepted(
            client, source, [event("track", f"at-new-{i}", f"2026-11-03T09:0{i}:00Z", user_id="u-ada", event="New")]
        )
        token = page_.next_page_token
        if not token:
            break
    assert seen == before

    forgot = run_cli(
        running, "forget", "--user-id", "u-ada", "--subject", "dpo@example.com", "--role", "privacy_officer"
    )
    assert forgot.returncode == 0, forgot.stderr + forgot.stdout

    def erased():
        events = client.profile.list_events(person, types=["page"], timeout=10).events
        return events if events and events[0].erased else None

    [gone] = wait_until(erased, timeout=30, what="the erased timeline")
    assert json.loads(gone.properties) == {"plan": "pro", "contact": {"email": None}}
    assert json.loads(gone.context)["campaign"]["name"] == "winter-sale"
