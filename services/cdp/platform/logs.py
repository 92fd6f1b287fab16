"""Structured logs: one JSON object per line, with the service, the request and the caller.

Every record carries `service`, and inside an RPC the `request_id` (the caller's `x-request-id`
metadata, or one made at the edge), the admitted `caller` and the access `decision_id`. Personal
data never reaches a log: messages name ids, positions and kinds, not values; as a second line of
defence email addresses and international phone numbers are masked in every message, and an
exception is logged with its type and frames but not its message (which may quote a value), save
the platform's own errors, whose messages name a field and a rule.

`CDP_LOG_FORMAT=text` gives the older one-line text form, for reading by eye.

Repeated failures (a peer down, a poison event) go through `Backoff`, which logs the first and
then ever more rarely, saying how many it did not log.

What Python would print itself goes through the same handler: a warning, an uncaught exception,
one that ends a thread, one raised where nothing can catch it (a finaliser, a coroutine closed
unfinished), and an event loop's unhandled errors. Printed as Python prints them they were text
among the JSON lines, with the exception's message (which may quote a value) and the repr of the
object or task.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

from cdp.platform.auth import admitted_caller
from cdp.platform.errors import CdpError

REQUEST_ID_METADATA = "x-request-id"
MAX_REQUEST_ID = 64

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("cdp_request_id", default="")

# Any script's letters (an address at bücher.de, a jörg), and the at sign as a URL or a
# full-width form writes it.
_EMAIL = re.compile(r"[\w.%+-]+(?:@|%40|\uff20)[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
_PHONE = re.compile(r"\+[0-9][0-9 ().-]{6,22}[0-9]")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id(offered: str | None = None) -> str:
    """The caller's request id when it is a plain id of at most 64 characters, else a new one
    (an id is logged: it must not carry data)."""
    if offered and _SAFE_ID.match(offered):
        return offered
    return uuid.uuid4().hex


def masked(text: str) -> str:
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


def _exception(
    info: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None],
) -> dict[str, Any]:
    kind, error, tb = info
    if kind is None or error is None:
        return {}
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
    out: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}", "frames": frames[-20:]}
    if isinstance(error, CdpError):
        out["message"] = masked(str(error))[:500]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        out["cause"] = f"{type(cause).__module__}.{type(cause).__qualname__}"
    return out


class RequestContext(logging.Filter):
    """Puts the request id, caller and decision id of the RPC being served on each record, as
    they are when it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        caller = admitted_caller()
        record.caller = caller.subject if caller is not None else ""
        record.decision_id = caller.decision_id if caller is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": masked(record.getMessage()),
        }
        for name in ("request_id", "caller", "decision_id"):
            found = getattr(record, name, "")
            if found:
                # A caller named by an email is masked too: the decision log, by decision_id, says who.
                entry[name] = masked(found) if name == "caller" else found
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = _exception(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(service: str) -> None:
    handler = logging.StreamHandler()
    if os.environ.get("CDP_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # a library's warning, as a line like the others
    sys.excepthook = _uncaught
    threading.excepthook = _thread_ended
    sys.unraisablehook = _unraisable


_hooks_log = logging.getLogger("cdp.uncaught")


def _name(kind: type[BaseException] | None) -> str:
    return f"{kind.__module__}.{kind.__qualname__}" if kind is not None else "an exception"


def _uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    _hooks_log.critical("uncaught %s", _name(kind), exc_info=(kind, error, tb))


def _thread_ended(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as the default hook: a thread may end itself so
    name = args.thread.name if args.thread is not None else "?"
    info = (args.exc_type, args.exc_value, args.exc_traceback) if args.exc_value is not None else None
    _hooks_log.error("thread %s ended by %s", name, _name(args.exc_type), exc_info=info)


def _unraisable(unraisable: Any) -> None:
    kind, error = unraisable.exc_type, unraisable.exc_value
    where = type(unraisable.object).__qualname__ if unraisable.object is not None else "?"
    info = (kind, error, unraisable.exc_traceback) if error is not None else None
    # A coroutine closed unfinished at a stop (grpc's, for an RPC in flight) raises CancelledError
    # there: part of stopping, not a fault.
    level = logging.DEBUG if kind is not None and issubclass(kind, asyncio.CancelledError) else logging.WARNING
    _hooks_log.log(level, "exception ignored in a %s: %s", where, _name(kind), exc_info=info)


def loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event loop's exception handler: what asyncio's own logs (the message, a task's or
    callback's name), without the reprs it adds, which show an exception's message."""
    error = context.get("exception")
    source = context.get("task") or context.get("future") or context.get("handle")
    described = f" ({type(source).__qualname__} {source.get_name()})" if isinstance(source, asyncio.Task) else ""
    info = (type(error), error, error.__traceback__) if isinstance(error, BaseException) else None
    # "Exception in callback f(args)": the arguments may be values.
    message = str(context.get("message") or "unhandled error").split("(", 1)[0].rstrip()
    logging.getLogger("asyncio").error("%s%s", message, described, exc_info=info)


class Backoff:
    """Logs a failure that repeats at first, then after 1, 2, 4 ... up to `longest` seconds, with
    the count of those it held back; `ok()` ends the run (the next failure logs at once)."""

    def __init__(self, logger: logging.Logger, longest: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.longest = longest
        self.clock = clock
        self._next_at = 0.0
        self._interval = 0.0
        self._held = 0

    def failed(self, level: int, message: str, *args: Any, **kwargs: Any) -> bool:
        """Log this failure if it is time to; whether it was logged."""
        now = self.clock()
        if now < self._next_at:
            self._held += 1
            return False
        if self._held:
            message += " (%d more like it not logged)"
            args = (*args, self._held)
        self.logger.log(level, message, *args, **kwargs)
        self._interval = min(max(self._interval * 2, 1.0), self.longest)
        self._next_at = now + self._interval
        self._held = 0
        return True

    def ok(self) -> None:
        self._next_at, self._interval, self._held = 0.0, 0.0, 0
