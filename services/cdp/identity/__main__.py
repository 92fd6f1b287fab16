"""Run identity: python -m cdp.identity [flags]."""

from cdp.identity.service import declare
from cdp.platform.service import serve

if __name__ == "__main__":
    serve("identity", declare)
