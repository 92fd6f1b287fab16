"""A service's background work (followers, watchers, publishers), kept running.

A follower or watcher that ends in an error (a bug, an exception a library lets out, even a
cancellation leaking from a client call) would otherwise be gone without a word, and what it kept
fresh would go stale while the service reports ready. Each is started again after a delay that
doubles while it keeps failing; every failure is counted, and logged with its traceback as repeated
failures are (cdp.platform.logs.Backoff).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from cdp.platform.logs import Backoff
from cdp.platform.metrics import TASK_RESTARTS

log = logging.getLogger(__name__)

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
# A run this long counts as healthy: the next failure waits the first delay again.
HEALTHY_S = 60.0


async def supervised(
    start: Callable[[], Coroutine[Any, Any, None]], name: str, service: str, *, first_delay_s: float = FIRST_DELAY_S
) -> None:
    """Run start() until it returns; when it fails, log, wait and run it again. Ends when cancelled
    (the service stopping), and lets SystemExit and KeyboardInterrupt through."""
    loop = asyncio.get_running_loop()
    delay = first_delay_s
    logged = Backoff(log)
    while True:
        began = loop.time()
        try:
            await start()
            return
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or current.cancelling():
                raise  # this task was cancelled: the service is stopping
            failure: BaseException = asyncio.CancelledError(f"{name} was cancelled from within")
        except Exception as error:
            failure = error
        if loop.time() - began >= HEALTHY_S:
            delay = first_delay_s
            logged.ok()
        TASK_RESTARTS.labels(service, name).inc()
        logged.failed(
            logging.ERROR,
            "%s failed (%s); starting it again in %.1f s",
            name,
            type(failure).__name__,
            delay,
            exc_info=failure,
        )
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
