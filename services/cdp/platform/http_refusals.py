"""What the platform's HTTP servers answer to a request aiohttp cannot parse as HTTP.

aiohttp answers such a request (a control character in a header or the query, a header over
8 KB, a bad Content-Length or chunk size) with a 400 whose body quotes the bytes at fault, and
logs each one at error level with the client's address. On the tracking API and the probe ports
(no token needed) that echoed a caller's values back, and let anyone write thousands of error
lines a second, each naming an address. Here the answer names the status only, and refusals are
logged as a count, ever more rarely (cdp.platform.logs.Backoff), without the address.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web, web_protocol

from cdp.platform.logs import Backoff

log = logging.getLogger(__name__)
_refused = Backoff(log)
_failed = Backoff(log)


def _handle_error(
    self: web_protocol.RequestHandler,
    request: Any,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    if status >= 500:
        _failed.failed(logging.ERROR, "HTTP: a request failed unexpectedly", exc_info=exc)
    else:
        kind = type(exc).__name__ if exc is not None else "an error"
        _refused.failed(logging.INFO, "HTTP: refused a request that is not valid HTTP (%s)", kind)
    if request.writer.output_size > 0:  # as aiohttp: some of a response went, the connection is broken
        raise ConnectionError("Response is sent already, cannot send another response with the error message")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {"code": "bad_request" if status < 500 else "internal", "message": f"{status} {phrase}"}
    response = web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
    response.force_close()
    return response


def install() -> None:
    """Answer and log unparseable requests as above, in every aiohttp server of this process."""
    web_protocol.RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]
