"""The platform's metrics, in one registry per process, served at each service's /metrics.

Every series carries the service it was counted for (the in-process platform runs them all in one
process, and a deployment's scrape adds only the pod). Labels are names the platform defines (RPC
methods, sources, destinations, entrypoints, outcomes): never a person's data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

RPCS = Counter(
    "cdp_rpc_requests",
    "RPCs served, by method and status code.",
    ["service", "method", "code"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "cdp_rpc_duration_seconds",
    "Time to serve an RPC, by method (a streamed answer: until its last message).",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
EVENTS = Counter(
    "cdp_events",
    "Calls the collector acknowledged, by source and outcome (accepted, duplicate, rejected, quarantined).",
    ["service", "source", "outcome"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "cdp_decisions",
    "Policy decisions taken, by entrypoint and result (allow, deny, or the result's shape).",
    ["service", "entrypoint", "result"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "cdp_deliveries",
    "Delivery attempts, by destination and outcome (delivered, retry, dead_lettered).",
    ["service", "destination", "outcome"],
    registry=REGISTRY,
)
RETRY_QUEUE = Gauge(
    "cdp_delivery_retry_queue",
    "Deliveries waiting for a retry, by destination.",
    ["service", "destination"],
    registry=REGISTRY,
)
DEAD_LETTERS = Gauge(
    "cdp_dead_letters",
    "Deliveries dead-lettered and not replayed, by destination.",
    ["service", "destination"],
    registry=REGISTRY,
)
VERIFY_FAILURES = Counter(
    "cdp_decision_log_verify_failures",
    "Times the decision log failed its check (a broken chain or a witness that disagrees).",
    ["service", "check"],
    registry=REGISTRY,
)
TASK_RESTARTS = Counter(
    "cdp_background_task_restarts",
    "Times a background task (a follower, a watcher) failed and was started again, by task.",
    ["service", "task"],
    registry=REGISTRY,
)


def decision_result(result: object) -> str:
    """A decision's result as a label: allow or deny where the result says, else its kind."""
    if isinstance(result, bool):
        return "allow" if result else "deny"
    if isinstance(result, dict):
        for key in ("allow", "allowed"):
            verdict = result.get(key)
            if isinstance(verdict, bool):
                return "allow" if verdict else "deny"
        if result.get("withheld"):
            return "partial"
        return "answer"
    return "answer" if result is not None else "undefined"


def exposition() -> str:
    """Every series of this process, in Prometheus' text format."""
    return generate_latest(REGISTRY).decode()
