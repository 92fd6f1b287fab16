"""Who is calling: read from the call's metadata.

The subject and roles arrive as x-cdp-subject and x-cdp-roles (comma-separated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass(frozen=True)
class Caller:
    subject: str = "anonymous"
    roles: tuple[str, ...] = field(default_factory=tuple)

    def as_input(self) -> dict:
        return {"subject": self.subject, "roles": list(self.roles)}


def caller_from(context: grpc.aio.ServicerContext) -> Caller:
    metadata = dict(context.invocation_metadata() or ())
    roles = tuple(r.strip() for r in metadata.get("x-cdp-roles", "").split(",") if r.strip())
    return Caller(subject=metadata.get("x-cdp-subject", "anonymous"), roles=roles)


def caller_metadata(subject: str, roles: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return (("x-cdp-subject", subject), ("x-cdp-roles", ",".join(roles)))
