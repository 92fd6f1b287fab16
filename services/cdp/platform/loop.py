"""The event loop a service process runs on: uvloop where it is installed, else asyncio's own.

uvloop runs the same coroutines with less CPU for each socket read and callback (the services'
loops spend most of their time there: gRPC calls, webhooks, the probes' HTTP). CDP_EVENT_LOOP=asyncio
keeps asyncio's loop, to tell whether a problem is the loop's.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

CHOICES = ("uvloop", "asyncio")


def chosen() -> str:
    """The loop this process runs: CDP_EVENT_LOOP if set, else uvloop where it imports."""
    wanted = os.environ.get("CDP_EVENT_LOOP", "").strip().lower()
    if wanted and wanted not in CHOICES:
        raise SystemExit(f"CDP_EVENT_LOOP: {wanted!r} is not one of {', '.join(CHOICES)}")
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if wanted == "uvloop":
            raise SystemExit("CDP_EVENT_LOOP=uvloop: uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run main to the end on the chosen loop."""
    name = chosen()
    log.info("event loop: %s", name)
    if name == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)
