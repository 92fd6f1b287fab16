"""Policy engine: bundles of Rego modules and data, evaluated embedded (regorus) or by OPA."""

from cdp.platform.policy.backends import make_engine
from cdp.platform.policy.bundle import PolicyBundle, bundle_from_sources, load_bundle
from cdp.platform.policy.engine import PolicyEngine, PolicyError, TestResult

__all__ = [
    "PolicyBundle",
    "PolicyEngine",
    "PolicyError",
    "TestResult",
    "bundle_from_sources",
    "load_bundle",
    "make_engine",
]
