"""Run segment: python -m cdp.segment [flags]."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
from cdp.platform.service import serve
from cdp.segment.service import declare

if __name__ == "__main__":
    serve("segment", declare)
