"""A failed call as an exception of the platform's hierarchy (cdp.platform.errors): the one place
where a gRPC status becomes an error for the caller.

It is the inverse of the servers' mapping (cdp.platform.status.CODES), so an error raised by an
application on one side is the same class on the other: NotFound, InvalidArgument (with the field),
PermissionDenied (with the id of the recorded decision), Unauthenticated, Conflict, Unavailable.
DEADLINE_EXCEEDED is DeadlineExceeded (an Unavailable); any other status is CallFailed. Every error
also carries the status's name (`code`, e.g. "NOT_FOUND") and the server's message (`details`).
"""

from __future__ import annotations

import re

import grpc

from cdp.platform import errors
from cdp.platform.auth import DECISION_METADATA
from cdp.platform.status import CODES


class DeadlineExceeded(errors.Unavailable):
    """The call's deadline passed before it was answered (its outcome is unknown)."""


class CallFailed(errors.CdpError):
    """A status with no kind of its own (INTERNAL, RESOURCE_EXHAUSTED, UNKNOWN, ...)."""


KINDS: dict[grpc.StatusCode, type[errors.CdpError]] = {code: kind for kind, code in CODES.items()} | {
    grpc.StatusCode.FAILED_PRECONDITION: errors.Conflict,
    grpc.StatusCode.ABORTED: errors.Conflict,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}
_DECISION = re.compile(r"^(?P<reasons>.*?)\s*\(decision (?P<id>[^)\s]+)\)\s*$", re.DOTALL)


def error_from(error: grpc.RpcError) -> errors.CdpError:
    """The platform error for a failed call (error must be a finished call: grpc's RpcError)."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (error.details() if callable(getattr(error, "details", None)) else None) or ""
    kind = KINDS.get(code, CallFailed)
    if kind is errors.InvalidArgument:
        made: errors.CdpError = errors.InvalidArgument(details or "invalid argument")
    elif kind is errors.PermissionDenied:
        made = _permission_denied(details, _trailing(error, DECISION_METADATA))
    else:
        made = kind(details or code.name)
    made.code = code.name  # type: ignore[attr-defined]
    made.status = code  # type: ignore[attr-defined]
    made.details = details  # type: ignore[attr-defined]
    return made


def _permission_denied(details: str, trailing_id: str) -> errors.PermissionDenied:
    match = _DECISION.match(details)
    reasons, decision_id = (match["reasons"], match["id"]) if match else (details, "")
    decision_id = trailing_id or decision_id
    field = ""
    head, sep, rest = reasons.partition(": ")  # "field: reasons", as PermissionDenied(field=) writes it
    if sep and re.fullmatch(r"[A-Za-z_][\w.]*", head):
        field, reasons = head, rest
    return errors.PermissionDenied([r for r in reasons.split("; ") if r] or [], decision_id, field)


def _trailing(error: grpc.RpcError, key: str) -> str:
    method = getattr(error, "trailing_metadata", None)
    for k, v in (method() if callable(method) else None) or ():
        if k == key:
            return v if isinstance(v, str) else v.decode("utf-8", "replace")
    return ""
