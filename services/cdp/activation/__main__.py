"""Run activation: python -m cdp.activation [flags]."""

from cdp.activation.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("activation", declare)
