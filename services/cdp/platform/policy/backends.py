"""Choosing a backend. The backends import the interface from engine; engine imports neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdp.platform.policy.bundle import PolicyBundle
    from cdp.platform.policy.engine import PolicyEngine


def make_engine(kind: str, bundle: PolicyBundle, *, opa_url: str | None = None) -> PolicyEngine:
    if kind == "embedded":
        from cdp.platform.policy.regorus_engine import RegorusEngine

        return RegorusEngine(bundle)
    if kind == "opa":
        if not opa_url:
            raise ValueError("policy engine 'opa' needs opa_url")
        from cdp.platform.policy.opa_engine import OpaServerEngine

        return OpaServerEngine(bundle, opa_url)
    raise ValueError(f"unknown policy engine {kind!r}: expected 'embedded' or 'opa'")
