"""Lineage's own rules: the evidence path from a call's identifier to the person's first one, and
why egress withheld a field."""

from __future__ import annotations

from cdp.api.identity.v1 import identity_pb2
from cdp.lineage.delivery import BY_VALUE, withheld_reason
from cdp.lineage.links import path


def edge(
    edge_id: str, a: tuple[str, str], b: tuple[str, str], active: bool = True, at: str = "t"
) -> identity_pb2.Evidence:
    return identity_pb2.Evidence(
        edge_id=edge_id,
        a=identity_pb2.Identifier(type=a[0], value=a[1]),
        b=identity_pb2.Identifier(type=b[0], value=b[1]),
        active=active,
        at=at,
    )


ANON, USER, EMAIL = ("anonymous_id", "a-1"), ("user_id", "u-1"), ("email", "bi:9")


def test_the_path_follows_admitted_evidence_only():
    edges = [edge("e1", ANON, USER), edge("e2", USER, EMAIL), edge("e3", ANON, EMAIL, active=False)]
    assert [e.edge_id for e in path(edges, EMAIL, ANON) or []] == ["e2", "e1"], "e3 was refused"
    assert path(edges, ANON, ANON) == []
    assert path(edges[:1], EMAIL, ANON) is None


def test_each_withheld_field_has_its_reason():
    result = {
        "reasons": {"email": "class pii.contact not allowed for purpose analytics", "phone": "class pii.phone ..."},
        "refused": [],
    }
    assert withheld_reason("email", result) == "class pii.contact not allowed for purpose analytics"
    assert withheld_reason("contact.phone", result) == "class pii.phone ...", "a value sealed at depth: its field"
    assert withheld_reason("secret", result) == BY_VALUE
    refused = {"reasons": {}, "refused": ["consent for analytics denied (needed by purpose analytics)"]}
    assert withheld_reason("plan", refused) == "consent for analytics denied (needed by purpose analytics)"
