"""The cdp command line."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
