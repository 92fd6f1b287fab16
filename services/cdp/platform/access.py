"""cdp.access: which caller may call which RPC, and who may read personal data in clear.

Every call is decided (from the decider's cache after the first time) and the decision is
recorded before the call goes on, refusals included.
"""

from __future__ import annotations

from typing import Any

from cdp.platform.auth import Decide
from cdp.platform.unit_of_work import UnitOfWork

ACCESS_DECISION = "data.cdp.access.decision"


def access_control(uow: UnitOfWork) -> Decide:
    """decide(method, caller) for the AuthInterceptor: (allow, reason, decision id, pii_clear)."""

    def decide(method: str, caller: dict[str, Any]) -> tuple[bool, str, str, bool]:
        decision = uow.decider.decide(
            ACCESS_DECISION,
            {"method": method, "caller": caller},
            caller=caller["subject"],
            key=(method, caller["subject"], caller["kind"], *caller["roles"]),
        )
        uow.commit()  # the decision is recorded before the call goes on
        result = decision.result
        allow = bool(result.get("allow"))
        reason = "; ".join(result.get("reasons", [])) or (
            f"{caller['subject']} may not call {method}" if not allow else ""
        )
        return allow, reason, decision.id, bool(result.get("pii_clear"))

    return decide
