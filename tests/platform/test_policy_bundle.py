"""Policy bundles: a revision names exactly the modules and data that decide."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdp.platform.policy import bundle_from_sources, load_bundle, make_engine

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def policies(tmp_path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(POLICIES, root)
    return root


def test_loads_modules_tests_and_data():
    bundle = load_bundle(POLICIES)
    areas = ("pii", "egress", "audience", "access", "collect", "identity", "sync")
    assert set(bundle.modules) == {f"cdp/{a}/{a}.rego" for a in areas}
    assert set(bundle.tests) == {f"cdp/{a}/{a}_test.rego" for a in areas}
    assert bundle.data["cdp"]["classification"]["email"] == "pii.contact"
    assert len(bundle.revision) == 64 and int(bundle.revision, 16) >= 0


def test_revision_is_stable(policies):
    assert load_bundle(POLICIES).revision == load_bundle(POLICIES).revision == load_bundle(policies).revision


def test_revision_changes_with_a_policy_file(policies):
    before = load_bundle(policies).revision
    module = policies / "cdp/egress/egress.rego"
    module.write_text(module.read_text() + "\n# a comment is a change too\n")
    assert load_bundle(policies).revision != before


def test_revision_changes_with_data(policies):
    before = load_bundle(policies).revision
    path = policies / "data/data.json"
    data = json.loads(path.read_text())
    data["cdp"]["purposes"]["analytics"]["allowed_classes"] = ["pii.network"]
    path.write_text(json.dumps(data))
    assert load_bundle(policies).revision != before


def test_revision_ignores_data_formatting_and_tests(policies):
    before = load_bundle(policies).revision
    path = policies / "data/data.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=7))
    test = policies / "cdp/pii/pii_test.rego"
    test.write_text(test.read_text() + "\ntest_extra if true\n")
    after = load_bundle(policies)
    assert after.revision == before  # tests do not change a decision
    assert "test_extra" in after.tests["cdp/pii/pii_test.rego"]


def test_sources_rebuild_the_same_revision():
    bundle = load_bundle(POLICIES)
    sources = bundle.sources()
    assert set(sources) >= set(bundle.modules) | set(bundle.tests) | {"data/data.json"}
    rebuilt = bundle_from_sources(sources)
    assert rebuilt.revision == bundle.revision
    assert (rebuilt.modules, rebuilt.tests, rebuilt.data) == (bundle.modules, bundle.tests, bundle.data)
    assert bundle_from_sources(json.loads(json.dumps(sources))).revision == bundle.revision


def test_data_files_deep_merge_in_name_order(policies):
    site = {
        "cdp": {
            "classification": {"loyalty_id": "pii.identifier"},
            "purposes": {"analytics": {"allowed_classes": ["pii.network"]}},
        }
    }
    (policies / "data/zz-site.json").write_text(json.dumps(site))
    bundle = load_bundle(policies)
    assert bundle.data["cdp"]["classification"]["loyalty_id"] == "pii.identifier"
    assert bundle.data["cdp"]["classification"]["email"] == "pii.contact"  # merged, not replaced
    assert bundle.data["cdp"]["purposes"]["analytics"]["allowed_classes"] == ["pii.network"]
    assert bundle_from_sources(bundle.sources()).revision == bundle.revision
    engine = make_engine("embedded", bundle)
    assert engine.evaluate("data.cdp.pii.decision", {"fields": ["loyalty_id", "plan"]})["personal"] == ["loyalty_id"]


def test_bad_bundles_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path)
    with pytest.raises(ValueError):
        bundle_from_sources({"cdp/x/x.rego": "package x", "notes.txt": "hi"})
    with pytest.raises(ValueError):
        bundle_from_sources({"cdp/x/x.rego": "package x", "data/list.json": "[1]"})


def test_no_rule_shares_a_path_with_data():
    # OPA refuses a rule at a path that also holds data ("conflicting rule for data path"); regorus
    # instead reports a cycle. Data may sit beside a package's rules (data.cdp.audience.roles).
    import re

    bundle = load_bundle(POLICIES)
    for path, source in bundle.modules.items():
        package = re.search(r"^package\s+([\w.]+)", source, re.MULTILINE).group(1).split(".")
        node = bundle.data
        for key in package:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        for rule in set(re.findall(r"^(?:default\s+)?([a-z_]\w*)\b", source, re.MULTILINE)) - {"package", "import"}:
            assert rule not in node, f"{path}: rule {rule} collides with data.{'.'.join(package)}.{rule}"
