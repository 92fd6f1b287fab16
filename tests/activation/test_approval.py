"""The approval state machine of a sync, driven by real cdp.sync decisions (embedded engine): the
author cannot approve their own sync, another with an approver role can, any change resets it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.activation.approval import (
    Fingerprint,
    Status,
    changed,
    decided,
    mapping_digest,
    may_send,
)
from cdp.platform.errors import Conflict, InvalidArgument, PermissionDenied
from cdp.platform.policy import load_bundle, make_engine

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SYNC = "data.cdp.sync.decision"
ANN = {"subject": "ann@example.com", "roles": ["marketer", "admin"]}  # the author
OLGA = {"subject": "olga@example.com", "roles": ["privacy_officer"]}
BOB = {"subject": "bob@example.com", "roles": ["marketer"]}
MAPPING = {"email_address": "email", "tier": "plan"}
V1 = Fingerprint("s1", 1, 4, mapping_digest(MAPPING), 2)


@pytest.fixture(scope="module")
def engine():
    return make_engine("embedded", load_bundle(POLICIES))


def step(engine, approval, fingerprint, action, caller, fields=("email", "plan")):
    """Ask cdp.sync, then apply its answer (the decision id stands in for the recorded one)."""
    question = {
        "action": action,
        "caller": caller,
        "sync": {"id": "s1", "author": "ann@example.com", "version": fingerprint.as_input(), "fields": list(fields)},
    }
    result = engine.evaluate(SYNC, question)
    return decided(approval, fingerprint, action, result, f"dec-{action}", caller["subject"])


def test_a_personal_sync_waits_for_another_persons_approval(engine):
    pending = step(engine, None, V1, "request", ANN)
    assert (pending.status, pending.requires_approval, may_send(pending)) == (Status.PENDING, True, False)
    with pytest.raises(PermissionDenied, match="may not approve a sync they wrote") as refused:
        step(engine, pending, V1, "approve", ANN)
    assert refused.value.decision_id == "dec-approve"
    with pytest.raises(PermissionDenied, match="needs one of the roles"):
        step(engine, pending, V1, "approve", BOB)
    approved = step(engine, pending, V1, "approve", OLGA)
    assert (approved.status, approved.by, approved.decision_id) == (Status.APPROVED, "olga@example.com", "dec-approve")
    assert may_send(approved) and may_send(approved, V1)


def test_a_sync_sending_nothing_personal_is_approved_on_request(engine):
    approval = step(engine, None, V1, "request", BOB, fields=("plan",))
    assert (approval.status, approval.requires_approval, may_send(approval)) == (Status.APPROVED, False, True)


@pytest.mark.parametrize(
    "change",
    [
        {"sync_version": 2},
        {"audience_version": 5},
        {"mapping": mapping_digest({**MAPPING, "phone": "phone"})},
        {"destination_version": 3},
    ],
    ids=["sync", "audience", "mapping", "destination"],
)
def test_any_change_resets_to_pending(engine, change):
    approved = step(engine, step(engine, None, V1, "request", ANN), V1, "approve", OLGA)
    v2 = Fingerprint(**{**V1.__dict__, **change})
    assert not may_send(approved, v2), "approved for another version"
    reset = changed(approved, v2)
    assert (reset.status, reset.fingerprint, reset.decision_id) == (Status.PENDING, v2, "")
    assert not may_send(reset)
    # An approval given while looking at the earlier version does not count for this one.
    with pytest.raises(Conflict, match="changed since"):
        step(engine, reset, V1, "approve", OLGA)
    again = step(engine, step(engine, reset, v2, "request", ANN), v2, "approve", OLGA)
    assert may_send(again, v2)


def test_no_change_keeps_the_approval(engine):
    approved = step(engine, step(engine, None, V1, "request", ANN), V1, "approve", OLGA)
    same = Fingerprint("s1", 1, 4, mapping_digest(dict(reversed(MAPPING.items()))), 2)
    assert changed(approved, same) is approved and may_send(approved, same)


def test_rejection_stops_sending_until_a_change_is_requested_again(engine):
    approved = step(engine, step(engine, None, V1, "request", ANN), V1, "approve", OLGA)
    rejected = step(engine, approved, V1, "reject", OLGA)
    assert (rejected.status, may_send(rejected)) == (Status.REJECTED, False)
    with pytest.raises(Conflict, match="rejected"):
        step(engine, rejected, V1, "approve", OLGA)
    withdrawn = step(engine, step(engine, None, V1, "request", ANN), V1, "reject", ANN)  # the author withdraws
    assert withdrawn.status is Status.REJECTED
    with pytest.raises(PermissionDenied):
        step(engine, approved, V1, "reject", BOB)


def test_approving_what_no_one_requested_or_an_unknown_action_is_refused(engine):
    with pytest.raises(Conflict, match="no approval was requested"):
        step(engine, None, V1, "approve", OLGA)
    with pytest.raises(InvalidArgument, match="action"):
        decided(None, V1, "publish", {"allow": True}, "d", "olga@example.com")
    assert not may_send(None)


TRANSITIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["request", "approve", "reject"]), st.sampled_from([True, False])),
        st.tuples(st.just("change"), st.integers(1, 3)),
    ),
    max_size=12,
)


@given(TRANSITIONS)
def test_only_an_approval_of_the_fingerprint_in_force_sends(steps):
    """Against a model of the rules: a refusal changes nothing; approving needs a request and no
    rejection since; a change resets to pending; only approved sends."""
    fingerprint, approval, model = V1, None, None  # model: the status as the rules say
    for action, arg in steps:
        if action == "change":
            new = Fingerprint("s1", V1.sync_version + arg, 4, V1.mapping, 2)
            if approval is not None and new != fingerprint:
                model = Status.PENDING
            fingerprint = new
            approval = changed(approval, fingerprint) if approval is not None else None
            continue
        result = {"allow": arg, "reasons": [] if arg else ["no"], "state": "pending", "requires_approval": True}
        if not arg:  # policy refused: nothing changes
            with pytest.raises(PermissionDenied):
                decided(approval, fingerprint, action, result, "d", "x")
            continue
        conflict = action != "request" and (model is None or (action == "approve" and model is Status.REJECTED))
        if conflict:
            with pytest.raises(Conflict):
                decided(approval, fingerprint, action, result, "d", "x")
            continue
        approval = decided(approval, fingerprint, action, result, "d", "x")
        model = {"request": Status.PENDING, "approve": Status.APPROVED, "reject": Status.REJECTED}[action]
    assert may_send(approval, fingerprint) is (model is Status.APPROVED)
    assert (approval.status if approval else None) == model
