"""Run profile: python -m cdp.profile [flags]."""

from cdp.platform.service import serve
from cdp.profile.service import declare

if __name__ == "__main__":
    serve("profile", declare)
