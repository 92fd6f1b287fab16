"""The access policy and the protos agree, both ways.

The RPCs are read from the generated descriptors: every service in cdp.api, and the gRPC health and
reflection services every server also serves. The policy's RPC names are the keys of
data.cdp.access.methods and any "/package.Service/Method" text in the (non-test) Rego modules.

A key names RPCs as access.rego reads it: whole ("/pkg.Service/Method"), or as a prefix ending in
"*" that every method starting with it matches. The test fails when

- the policy names an RPC that does not exist: a whole name that is no RPC, or a prefix that matches
  none;
- an RPC exists that the policy does not cover. An RPC is covered when a key other than the bare
  "*" names it (whole, or by a prefix such as "/cdp.segment.v1.SegmentService/*") with at least one
  role. The bare "*" is admin's way into everything, not a decision about any one RPC: an RPC only
  admin may call says so with its own entry. The health methods the interceptor admits without
  asking the policy (cdp.platform.auth.HEALTH_METHODS) are covered by that.

The matching is checked against the policy itself: for every RPC, the roles the embedded engine
gives as data.cdp.access.permitted_roles are those of the keys this test finds for it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import cdp.api
from cdp.platform.auth import HEALTH_METHODS
from cdp.platform.config import SERVICES
from cdp.platform.policy import bundle_from_sources, load_bundle, make_engine

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CATCH_ALL = "*"
RPC_TEXT = re.compile(r'"(/[A-Za-z_][\w.]*\.[A-Za-z_]\w*/[\w*]*)"')


def generated_rpcs() -> set[str]:
    """ "/package.Service/Method" of every RPC in the generated stubs, health and reflection."""
    modules = [health_pb2, reflection_pb2]
    for info in pkgutil.walk_packages(cdp.api.__path__, "cdp.api."):
        if info.name.endswith("_pb2"):
            modules.append(importlib.import_module(info.name))
    return {
        f"/{service.full_name}/{method.name}"
        for module in modules
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def matches(key: str, rpc: str) -> bool:
    """Whether a key of data.cdp.access.methods names the RPC (as access.rego's permitted_roles)."""
    return rpc.startswith(key[:-1]) if key.endswith("*") else rpc == key


def without_comments(rego: str) -> str:
    """The Rego text with its comments (from a # outside a string to the end of the line) removed."""
    lines = []
    for line in rego.splitlines():
        quoted, end = False, len(line)
        for i, char in enumerate(line):
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                quoted = not quoted
            elif char == "#" and not quoted:
                end = i
                break
        lines.append(line[:end])
    return "\n".join(lines)


def named_in_modules(modules: dict[str, str]) -> set[str]:
    return {name for text in modules.values() for name in RPC_TEXT.findall(without_comments(text))}


def disagreements(methods: dict[str, list[str]], modules: dict[str, str], rpcs: set[str]) -> list[str]:
    problems = [
        f"the policy names {key}, which is no RPC"
        for key in sorted(set(methods) | named_in_modules(modules))
        if key != CATCH_ALL and not any(matches(key, rpc) for rpc in rpcs)
    ]
    for rpc in sorted(rpcs - HEALTH_METHODS):
        if not any(methods[key] for key in methods if key != CATCH_ALL and matches(key, rpc)):
            problems.append(f"{rpc} is covered by no entry of data.cdp.access.methods but the bare {CATCH_ALL!r}")
    return problems


BUNDLE = load_bundle(POLICIES)
RPCS = generated_rpcs()


def test_the_descriptors_are_read():
    assert {"/cdp.collector.v1.CollectorService/Ingest", "/cdp.eventlog.v1.EventLogService/Read"} <= RPCS
    assert "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" in RPCS
    assert HEALTH_METHODS <= RPCS
    services = {rpc.split("/")[1] for rpc in RPCS}
    assert {"grpc.health.v1.Health", "cdp.segment.v1.SegmentService", "cdp.identity.v1.IdentityService"} <= services
    assert len(services) == 10  # five services, quality, the event log, operations, health and reflection


def test_the_policy_names_only_rpcs_that_exist_and_covers_every_rpc():
    access = BUNDLE.data["cdp"]["access"]
    assert disagreements(access["methods"], BUNDLE.modules, RPCS) == []
    assert set(access["services"]) == set(SERVICES)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"/cdp.collector.v1.CollectorService/Purge": ["admin"]},
            "the policy names /cdp.collector.v1.CollectorService/Purge, which is no RPC",
        ),
        ({"/cdp.billing.v1.BillingService/*": ["admin"]}, "the policy names /cdp.billing.v1.BillingService/*"),
        (
            {"/cdp.identity.v1.IdentityService/Forget": None},
            "/cdp.identity.v1.IdentityService/Forget is covered by no entry",
        ),
        (
            {"/cdp.identity.v1.IdentityService/Forget": []},
            "/cdp.identity.v1.IdentityService/Forget is covered by no entry",
        ),
    ],
)
def test_a_disagreement_is_found(change, expected):
    methods = dict(BUNDLE.data["cdp"]["access"]["methods"])
    for key, roles in change.items():
        if roles is None:
            del methods[key]
        else:
            methods[key] = roles
    found = disagreements(methods, BUNDLE.modules, RPCS)
    assert any(expected in problem for problem in found), found


def test_an_rpc_named_in_a_module_is_checked():
    modules = {**BUNDLE.modules, "cdp/x/x.rego": 'package cdp.x\n\nm := "/cdp.profile.v1.ProfileService/Nope"\n'}
    found = disagreements(BUNDLE.data["cdp"]["access"]["methods"], modules, RPCS)
    assert found == ["the policy names /cdp.profile.v1.ProfileService/Nope, which is no RPC"]


def test_the_matching_is_the_policys():
    """For every RPC, the roles the policy permits are those of the keys `matches` finds for it."""
    methods = BUNDLE.data["cdp"]["access"]["methods"]
    sources = {name: text for name, text in BUNDLE.sources().items() if not name.endswith("_test.rego")}
    engine = make_engine("embedded", bundle_from_sources(sources))
    for rpc in sorted(RPCS):
        roles = engine.evaluate("data.cdp.access.permitted_roles", {"method": rpc})
        expected = {role for key, listed in methods.items() if matches(key, rpc) for role in listed}
        assert set(roles) == expected, rpc
