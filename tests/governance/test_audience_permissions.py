"""Who may change an audience and what for, on the running platform, on SQLite and on PostgreSQL.

Every audience has a purpose from policy data: an unknown one is refused naming it, on create and
on update. An update is governed as a create is: a sensitive trait is refused, and a caller who sees
personal data only masked may not make an audience target it. A preview is a governed read. Every
refusal, and every preview, is a recorded cdp.audience decision in segment's log.
"""

from __future__ import annotations

import json

import pytest

from cdp.client import PermissionDenied
from support.calls import event, trait_condition
from support.governance import decisions, ingest_accepted, profile_by, rpc_error
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e

AUDIENCE_DECISION = "data.cdp.audience.decision"
USERS = {"perm-u1": "pro", "perm-u2": "pro", "perm-u3": "free"}


def audience_decisions(client) -> dict[str, tuple[dict, dict]]:
    """decision id -> (input, result) of segment's recorded cdp.audience decisions."""
    return {
        d.decision_id: (json.loads(d.input), json.loads(d.result))
        for d in decisions(client, "segment")
        if d.entrypoint == AUDIENCE_DECISION
    }


def refused(call, *args, **kwargs) -> PermissionDenied:
    error = rpc_error(call, *args, timeout=20, **kwargs)
    assert isinstance(error, PermissionDenied), error
    return error


def test_purposes_and_targeting_are_decided_on_create_update_and_preview(platform, client):
    source = client.create_source("audience-permissions", server_side=True)
    ingest_accepted(
        client,
        source,
        [
            event("identify", f"perm-{u}", "2026-11-30T10:00:00Z", user_id=u, traits={"plan": p, "email": f"{u}@x.io"})
            for u, p in USERS.items()
        ],
    )
    persons = {u: wait_until(lambda u=u: profile_by(client, "user_id", u), timeout=30).person_id for u in USERS}
    marketer = client.as_user("mia@example.com", ["marketer"]).segment
    analyst = client.as_user("al@example.com", ["analyst"]).segment
    pro = [trait_condition("plan", "eq", "pro")]

    unknown = refused(marketer.create_audience, "Pro", pro, purpose="profiling")
    assert unknown.reasons == [
        "purpose 'profiling' is not one of the purposes [analytics, marketing, reporting, support]"
    ]
    created = marketer.create_audience("Pro", pro, purpose="marketing", timeout=20)
    assert created.purpose == "marketing" and created.status == "active"
    wait_until(
        lambda: (
            sorted(client.segment.list_members(created.audience_id, timeout=10))
            == sorted(persons[u] for u in ("perm-u1", "perm-u2"))
        ),
        timeout=30,
        what="the audience's members",
    )

    refusals = [unknown.decision_id]
    for change, reason in (
        (
            {"purpose": "resale"},
            "purpose 'resale' is not one of the purposes [analytics, marketing, reporting, support]",
        ),
        ({"conditions": [trait_condition("religion", "eq", "any")]}, "trait religion is sensitive.religion"),
        ({"conditions": [trait_condition("email", "exists", True)]}, "trait email is pii.contact: mia@example.com"),
    ):
        error = refused(marketer.update_audience, created.audience_id, **change)
        assert any(r.startswith(reason) for r in error.reasons), error.reasons
        refusals.append(error.decision_id)
    assert client.segment.get_audience(created.audience_id, timeout=10).version == 1  # nothing changed

    # An admin, who sees personal data in clear, may target the email; a new version, a new purpose.
    updated = client.segment.update_audience(
        created.audience_id, purpose="support", conditions=[trait_condition("email", "eq", "perm-u3@x.io")], timeout=20
    )
    assert (updated.version, updated.purpose) == (2, "support")
    assert client.segment.list_members(created.audience_id, timeout=10) == [persons["perm-u3"]]

    # A preview: a governed read of members, recorded; an analyst may not preview at all.
    shown = marketer.preview_audience(pro, sample=1, timeout=20)
    assert shown.size == 2 and len(shown.person_ids) == 1
    assert shown.person_ids[0] == min(persons[u] for u in ("perm-u1", "perm-u2"))
    assert refused(marketer.preview_audience, [trait_condition("religion", "exists", True)])
    assert refused(analyst.preview_audience, pro)

    recorded = audience_decisions(client)
    for decision_id in refusals:
        assert recorded[decision_id][1]["allow"] is False
    assert recorded[shown.decision_id][0]["action"] == "preview"
    assert recorded[shown.decision_id][0]["caller"]["subject"] == "mia@example.com"
    assert recorded[updated.update_decision_id][0]["audience"]["purpose"] == "support"
    assert "perm-u3@x.io" not in json.dumps([i for i, _ in recorded.values()])  # names, never literals
