"""Run the collector: python -m cdp.collector [flags]."""

from cdp.collector.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("collector", declare)
