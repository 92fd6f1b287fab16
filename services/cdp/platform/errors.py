"""The errors an application raises on purpose, one kind per answer a caller can act on.

Applications and domains raise these; the gRPC layer maps them to status codes in one place
(cdp.platform.server), and any other exception is a fault: INTERNAL, with an error id that is
also in the log. Nothing here imports gRPC, so domains may raise them.
"""

from __future__ import annotations


class CdpError(Exception):
    """An expected failure with a message for the caller."""


class NotFound(CdpError):
    """What the call names does not exist."""


class InvalidArgument(CdpError):
    """A field of the request breaks a rule; the message names both.

    InvalidArgument("name", "is required"), or one message "name: is required".
    """

    def __init__(self, field: str, rule: str = ""):
        if not rule:
            field, _, rule = field.partition(": ") if ": " in field else ("", "", field)
        super().__init__(f"{field}: {rule}" if field else rule)
        self.field = field
        self.rule = rule


class PermissionDenied(CdpError):
    """Policy refused; the recorded decision that did is named."""

    def __init__(self, reasons: list[str] | str, decision_id: str = "", field: str = ""):
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        self.decision_id = decision_id
        self.field = field
        text = "; ".join(self.reasons) or "not allowed by policy"
        if field:
            text = f"{field}: {text}"
        super().__init__(f"{text} (decision {decision_id})" if decision_id else text)


class Unauthenticated(CdpError):
    """The caller's credentials (a write key, a token) are missing or not valid."""


class Conflict(CdpError):
    """The request contradicts the current state (a name taken, a stale version)."""


class Unavailable(CdpError):
    """A dependency cannot answer now; the same call may succeed later."""
