"""Run segment: python -m cdp.segment [flags]."""

from cdp.platform.service import serve
from cdp.segment.service import declare

if __name__ == "__main__":
    serve("segment", declare)
