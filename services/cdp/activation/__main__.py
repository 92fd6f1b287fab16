"""Run activation: python -m cdp.activation [flags]."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
from cdp.activation.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("activation", declare)
