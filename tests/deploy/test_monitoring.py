"""The dashboard and alert rules shipped in deploy/monitoring query only metrics the services
serve, with the labels they give them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from cdp.collector.quality.metrics import SERIES as QUALITY_SERIES
from cdp.platform import metrics

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
# Served beside the registry's series by every service (cdp.platform.service.metrics).
GAUGES = {
    "cdp_log_head": {"service"},
    **{f"cdp_follower_{g}": {"service", "upstream"} for g in ("position", "lag", "parked")},
    **QUALITY_SERIES,  # the collector's, read from its quality read model at each scrape
}
PROMQL_WORDS = {"sum", "by", "rate", "increase", "deriv", "histogram_quantile", "and", "or", "le", "without"}


def served() -> dict[str, set[str]]:
    """Every series name a service can serve, with its labels."""
    out = dict(GAUGES)
    for metric in vars(metrics).values():
        names = getattr(metric, "_labelnames", None)
        kind = getattr(metric, "_type", "")
        if names is None:
            continue
        base = metric._name
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}[kind]
        for suffix in suffixes:
            out.setdefault(base + suffix, set()).update(names)
            if suffix == "_bucket":
                out[base + suffix].add("le")
    return out


def queried(expr: str) -> list[tuple[str, set[str]]]:
    """The series an expression reads, with the labels it matches, groups or prints by."""
    found = []
    for name, selector in re.findall(r"\b(cdp_[a-z_]+)(\{[^}]*\})?", expr):
        found.append((name, set(re.findall(r"(\w+)\s*[=!~]", selector or ""))))
    grouped = set()
    for group in re.findall(r"by \(([^)]*)\)", expr):
        grouped |= {g.strip() for g in group.split(",")}
    return [(n, labels | grouped) for n, labels in found]


def test_every_alert_queries_served_series_with_their_labels():
    known = served()
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"CdpFollowerLagGrowing", "CdpParkedEvents", "CdpDeadLetters", "CdpDecisionLogVerifyFailed"} <= names
    for rule in rules:
        series = queried(rule["expr"])
        assert series, rule["alert"]
        for name, labels in series:
            assert name in known, f"{rule['alert']} reads {name}, which no service serves"
            assert labels <= known[name], f"{rule['alert']}: {name} has no labels {labels - known[name]}"
        for used in re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])):
            assert any(used in known[n] for n, _ in series), f"{rule['alert']} prints a label it has not: {used}"


def test_every_dashboard_panel_queries_served_series():
    known = served()
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    assert dashboard["uid"] == "cdp-platform" and len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name, labels in queried(target["expr"]):
                assert name in known, f"panel {panel['title']!r} reads {name}, which no service serves"
                assert labels <= known[name] | {"le"}, f"panel {panel['title']!r}: {name} lacks {labels}"


def test_every_service_pod_is_scraped_on_its_probe_port():
    manifests = yaml.safe_load_all((MONITORING.parent / "k8s" / "cdp.yaml").read_text())
    scraped = {}
    for doc in manifests:
        if not doc or doc.get("kind") != "Deployment":
            continue
        pod = doc["spec"]["template"]
        ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        annotations = pod["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", doc["metadata"]["name"]
        assert (
            int(annotations["prometheus.io/port"]) == ports["probes"]
            and annotations["prometheus.io/path"] == "/metrics"
        )
        scraped[pod["metadata"]["labels"]["service"]] = ports["probes"]
    assert set(scraped) == {"collector", "identity", "profile", "segment", "activation"}
