"""Building a large state without the cyclic garbage collector walking it meanwhile."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """Without the cyclic collector while a large state is built: it would walk the growing state
    again and again (measured: 20 times slower restoring a snapshot). The state is then frozen,
    so later collections skip it (and serving does not pause to walk it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()
