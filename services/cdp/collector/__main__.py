"""Run the collector: python -m cdp.collector [flags]."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
from cdp.collector.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("collector", declare)
