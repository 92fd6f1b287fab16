"""Run profile: python -m cdp.profile [flags]."""

import cdp.platform.grpc_log  # noqa: F401  (first: before grpc loads)
from cdp.platform.service import serve
from cdp.profile.service import declare

if __name__ == "__main__":
    serve("profile", declare)
