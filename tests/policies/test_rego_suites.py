"""Every *_test.rego test passes, on both backends (embedded regorus and an OPA server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.policy.engine import find_test_rules
from support.opa_server import opa_server

POLICIES = Path(__file__).resolve().parents[2] / "policies"
BUNDLE = load_bundle(POLICIES)
TESTS = find_test_rules(BUNDLE.tests)


@pytest.fixture(scope="module", params=["embedded", "opa"])
def results(request):
    if request.param == "embedded":
        yield {r.name: r for r in make_engine("embedded", BUNDLE).run_tests()}
        return
    with opa_server() as url:
        engine = make_engine("opa", BUNDLE, opa_url=url)
        yield {r.name: r for r in engine.run_tests()}
        engine.close()


@pytest.mark.parametrize("name", TESTS)
def test_rego(results, name):
    result = results.get(name)
    assert result is not None, f"{name} was not run"
    assert result.passed, f"{name} failed: {result.error}"


def test_every_module_has_tests():
    packages = {path.rsplit("/", 1)[0] for path in BUNDLE.modules}
    tested = {path.rsplit("/", 1)[0] for path in BUNDLE.tests}
    assert packages == tested
    for package in ("pii", "egress", "audience"):
        assert sum(f"data.cdp.{package}_test." in name for name in TESTS) >= 5, package


def test_a_failing_rego_test_is_reported():
    from cdp.platform.policy import bundle_from_sources

    sources = {
        **BUNDLE.sources(),
        "cdp/pii/broken_test.rego": (
            "package cdp.broken_test\n\nimport rego.v1\n\ntest_false if false\n\ntest_true if true\n"
        ),
    }
    results = {r.name: r for r in make_engine("embedded", bundle_from_sources(sources)).run_tests()}
    assert not results["data.cdp.broken_test.test_false"].passed
    assert results["data.cdp.broken_test.test_true"].passed
