"""A typed client of the platform's gRPC APIs, for the services' internal callers, the CLI,
the benchmarks and the tests. See cdp.client.connection, cdp.client.services and cdp.client.calls.

Failed calls raise the platform's errors (cdp.platform.errors): NotFound, InvalidArgument,
PermissionDenied, Unauthenticated, Conflict, Unavailable, and DeadlineExceeded or CallFailed
from cdp.client.errors.
"""

from cdp.client.calls import IDEMPOTENT, NO_RETRY, ONCE, READ, Retry
from cdp.client.connection import AsyncConnection, Connection, CredentialsError, default_addresses
from cdp.client.errors import CallFailed, DeadlineExceeded, error_from
from cdp.client.services import (
    ActivationClient,
    AsyncActivationClient,
    AsyncCollectorClient,
    AsyncEventLogClient,
    AsyncHealthClient,
    AsyncIdentityClient,
    AsyncOpsClient,
    AsyncProfileClient,
    AsyncSegmentClient,
    CollectorClient,
    EventLogClient,
    HealthClient,
    IdentityClient,
    OpsClient,
    ProfileClient,
    QualityClient,
    SegmentClient,
    identifier,
)
from cdp.platform.errors import (
    CdpError,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "IDEMPOTENT",
    "NO_RETRY",
    "ONCE",
    "READ",
    "ActivationClient",
    "AsyncActivationClient",
    "AsyncCollectorClient",
    "AsyncConnection",
    "AsyncEventLogClient",
    "AsyncHealthClient",
    "AsyncIdentityClient",
    "AsyncOpsClient",
    "AsyncProfileClient",
    "AsyncSegmentClient",
    "CallFailed",
    "CdpError",
    "CollectorClient",
    "Conflict",
    "Connection",
    "CredentialsError",
    "DeadlineExceeded",
    "EventLogClient",
    "HealthClient",
    "IdentityClient",
    "InvalidArgument",
    "NotFound",
    "OpsClient",
    "PermissionDenied",
    "ProfileClient",
    "QualityClient",
    "Retry",
    "SegmentClient",
    "Unauthenticated",
    "Unavailable",
    "default_addresses",
    "error_from",
    "identifier",
]
