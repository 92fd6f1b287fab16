"""Run identity: python -m cdp.identity [flags]."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
from cdp.identity.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("identity", declare)
