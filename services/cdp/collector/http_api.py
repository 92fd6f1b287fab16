"""The Segment-compatible HTTP tracking API, served by the collector process.

POST /v1/batch and /v1/{identify,track,page,screen,group,alias} feed the same
ingest path as gRPC. A request is all or nothing: a bad call anywhere in a
batch gets 400 naming it and nothing of the batch is stored, since SDKs do not
retry 4xx and a partly stored batch could never be completed.

Slow clients cannot starve the others (see Limits): headers and bodies must
arrive within their timeouts, or the connection is closed; only so many bodies
may be arriving at once from one client address (beyond: 429 and the connection
closed); and a request counts as in flight only once its body is in, so what
trickles in never makes the API answer 429 to requests that arrived whole.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass

import orjson
from aiohttp import web

from cdp.api.collector.v1 import collector_pb2
from cdp.collector import domain, segment_json
from cdp.collector.application import BatchTooLarge, Collector, UnknownWriteKey
from cdp.collector.segment_json import MalformedCall, to_event
from cdp.platform import http_refusals
from cdp.platform.logs import Backoff

log = logging.getLogger(__name__)
_gone = Backoff(log)

SINGLE_CALLS = ("identify", "track", "page", "screen", "group", "alias")
MAX_INFLIGHT = 64  # concurrent requests being processed (bodies in) before answering 429
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Limits:
    """What a client may hold of the API. The defaults leave a slow mobile link time for a
    500 KB batch (15 s is 34 KB/s) and let 16 bodies at once arrive from one address."""

    # Headers must arrive within this of the connection opening (or of the previous response on
    # it); it is aiohttp's keep-alive timeout, so an idle connection is closed after it too.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 15.0  # a body must arrive within this of its headers
    # A body not in when its headers are gets this long before it counts as unfinished.
    body_grace_s: float = 0.25
    unfinished_per_address: int = 16  # bodies arriving at once from one client address
    unfinished_total: int = 1024  # from all addresses together
    max_inflight: int = MAX_INFLIGHT


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, close: bool = False):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.close = close  # close the connection once answered: what it sends next is not read


def _error(status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


CONTENT_ENCODINGS = ("", "identity", "gzip", "x-gzip")


def decode_body(raw: bytes, encoding: str) -> bytes:
    """Gunzip when the body is gzip, whatever Content-Type says (every member of it, as gunzip
    does); cap the inflated size. Another Content-Encoding is refused, not read as JSON."""
    encoding = encoding.strip().lower()
    if encoding not in CONTENT_ENCODINGS:
        raise HttpError(415, "unsupported_encoding", "Content-Encoding: must be gzip or none")
    if encoding not in ("gzip", "x-gzip") and raw[:2] != b"\x1f\x8b":
        return raw
    body = b""
    rest = raw
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body += inflater.decompress(rest, domain.MAX_BATCH_BYTES + 1 - len(body))
            if len(body) > domain.MAX_BATCH_BYTES or inflater.unconsumed_tail:
                raise HttpError(
                    413, "too_large", f"body: inflates to more than {domain.MAX_BATCH_BYTES} bytes (500 KB)"
                )
            if not inflater.eof:
                raise HttpError(400, "invalid_gzip", "body: gzip stream is truncated")
            rest = inflater.unused_data
            if not rest.strip(b"\x00 \t\r\n"):  # padding after the last member, as gunzip allows
                return body
            if rest[:2] != b"\x1f\x8b":
                raise HttpError(400, "invalid_gzip", "body: data after the end of the gzip stream")
    except zlib.error as error:
        raise HttpError(400, "invalid_gzip", f"body: not valid gzip ({error})") from None


def parse_json(body: bytes) -> dict:
    try:
        document = segment_json.loads(body)
    except ValueError as error:  # orjson.JSONDecodeError among them
        raise HttpError(400, "invalid_json", f"body: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise HttpError(400, "invalid_json", "body: must be a JSON object")
    return document


def write_key_of(request: web.Request, document: dict) -> str:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(401, "unauthorized", "Authorization: malformed basic credentials") from None
        if user:
            return user
    key = request.headers.get("X-Write-Key", "") or document.get("writeKey", "")
    if not isinstance(key, str) or not key:
        raise HttpError(
            401, "unauthorized", "writeKey: missing (basic auth user, X-Write-Key header or writeKey in the body)"
        )
    return key


def calls_of(document: dict, kind: str) -> list:
    if kind != "batch":
        return [document]
    batch = document.get("batch")
    if not isinstance(batch, list):
        raise HttpError(400, "invalid_request", "batch: must be an array of calls")
    if len(batch) > domain.MAX_BATCH_EVENTS:
        raise HttpError(413, "too_large", f"batch: {len(batch)} calls; the limit is {domain.MAX_BATCH_EVENTS}")
    return batch


class TrackingApi:
    def __init__(self, collector: Collector, limits: Limits | None = None):
        self.collector = collector
        self.limits = limits or Limits()
        self.inflight = 0
        self.unfinished: Counter[str] = Counter()  # bodies arriving, by client address

    def app(self) -> web.Application:
        app = web.Application(client_max_size=domain.MAX_BATCH_BYTES + 1024)
        app.router.add_post("/v1/batch", self.handle)
        app.router.add_post("/v1/import", self.handle)
        for kind in SINGLE_CALLS:
            app.router.add_post(f"/v1/{kind}", self.handle)
        app.router.add_get("/health", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if self.inflight >= self.limits.max_inflight:  # refused before its body is read
                raise self._overloaded()
            raw = await self._body(request)
            if self.inflight >= self.limits.max_inflight:
                raise self._overloaded()
            self.inflight += 1
            try:
                return await self._handle(request, raw)
            finally:
                self.inflight -= 1
        except HttpError as error:
            response = _error(error.status, error.code, error.message, error.headers)
            return await _closing(request, response) if error.close else response
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "too_large", f"body: larger than {domain.MAX_BATCH_BYTES} bytes (500 KB)")
        except ConnectionResetError:
            # The caller went away before its body had come (nothing of it is stored): not a fault
            # of the collector, and anyone can do it at will, so it is logged ever more rarely.
            _gone.failed(logging.INFO, "tracking API: a caller went away before its body had come")
            return _error(400, "incomplete", "body: the connection closed before it had come")
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("tracking API: unexpected failure (error id %s)", error_id)
            return _error(500, "internal", f"the collector failed (error id {error_id}); retry")

    @staticmethod
    def _overloaded() -> HttpError:
        return HttpError(429, "overloaded", "too many requests in flight; retry", {"Retry-After": str(RETRY_AFTER_S)})

    async def _body(self, request: web.Request) -> bytes:
        """The request's body, within the body timeout; one still arriving after the grace counts
        as unfinished for its address, and beyond the bounds the request is refused."""
        if request.content.is_eof():  # all of it came with the headers
            return await request.read()
        limits = self.limits
        reading = asyncio.ensure_future(request.read())
        try:
            done, _ = await asyncio.wait({reading}, timeout=limits.body_grace_s)
            if done:
                return reading.result()
            address = request.remote or ""
            if (
                self.unfinished[address] >= limits.unfinished_per_address
                or self.unfinished.total() >= limits.unfinished_total
            ):
                raise HttpError(
                    429,
                    "overloaded",
                    "too many unfinished requests from this address; retry",
                    {"Retry-After": str(RETRY_AFTER_S)},
                    close=True,
                )
            self.unfinished[address] += 1
            try:
                return await asyncio.wait_for(reading, limits.body_timeout_s - limits.body_grace_s)
            except TimeoutError:
                raise HttpError(
                    408, "timeout", f"body: not received within {limits.body_timeout_s:g} s", close=True
                ) from None
            finally:
                self.unfinished[address] -= 1
                if not self.unfinished[address]:
                    del self.unfinished[address]
        finally:
            reading.cancel()

    async def _handle(self, request: web.Request, raw: bytes) -> web.Response:
        kind = request.path.rsplit("/", 1)[-1]
        kind = "batch" if kind in ("batch", "import") else kind
        if len(raw) > domain.MAX_BATCH_BYTES:
            raise HttpError(413, "too_large", f"body: {len(raw)} bytes; the limit is {domain.MAX_BATCH_BYTES} (500 KB)")
        document = parse_json(decode_body(raw, request.headers.get("Content-Encoding", "")))
        write_key = write_key_of(request, document)
        batch_sent_at = document.get("sentAt") if isinstance(document.get("sentAt"), str) else ""
        events = []
        for index, call in enumerate(calls_of(document, kind)):
            where = f"batch[{index}]." if kind == "batch" else ""
            try:
                event = to_event(call, default_type="" if kind == "batch" else kind)
            except MalformedCall as error:
                raise HttpError(400, "invalid_request", f"{where}{error.field}: {error.rule}") from None
            if kind not in ("batch", event.type):
                # Not the caller's value back: a type that is no call type may be anything.
                raise HttpError(400, "invalid_request", f"type: must be {kind!r} (or absent) on /v1/{kind}")
            if not event.message_id:  # as Segment does; such a call is not deduplicated when retried
                event.message_id = str(uuid.uuid4())
            if not event.sent_at and batch_sent_at:
                event.sent_at = batch_sent_at
            try:
                size = len(orjson.dumps(call, default=str))
            except orjson.JSONEncodeError:  # deeper than orjson writes, in a key the call does not use
                raise HttpError(
                    400,
                    "invalid_request",
                    f"{where.rstrip('.') or 'event'}: nests deeper than {domain.MAX_DEPTH} levels",
                ) from None
            if size > domain.MAX_EVENT_BYTES:
                raise HttpError(
                    413,
                    "too_large",
                    f"{where.rstrip('.') or 'event'}: larger than {domain.MAX_EVENT_BYTES} bytes (32 KB)",
                )
            events.append(event)
        try:
            response = await self.collector.ingest_async(write_key, events, all_or_nothing=True)
        except UnknownWriteKey as error:
            raise HttpError(401, "unauthorized", str(error)) from None
        except BatchTooLarge as error:
            raise HttpError(413, "too_large", str(error)) from None
        if response.rejected:
            # The call at fault, not the neighbours turned away with it.
            ack = next(a for a in response.acks if a.status == collector_pb2.ACK_STATUS_REJECTED and a.field != "batch")
            where = f"batch[{ack.index}]." if kind == "batch" else ""
            raise HttpError(400, "invalid_request", f"{where}{ack.field}: {ack.error}")
        return web.json_response({"success": True})


async def _closing(request: web.Request, response: web.Response) -> web.Response:
    """Send the response, then close the connection at once: no lingering to read the rest."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


async def start_http(collector: Collector, host: str, port: int, limits: Limits | None = None) -> web.AppRunner:
    limits = limits or Limits()
    http_refusals.install()
    # The API inflates gzip itself, with a cap on the inflated size.
    runner = web.AppRunner(
        TrackingApi(collector, limits).app(),
        access_log=None,
        auto_decompress=False,
        keepalive_timeout=limits.header_timeout_s,
    )
    await runner.setup()
    # reuse_port: several collector processes may serve one port (the kernel spreads the connections).
    await web.TCPSite(runner, host, port, reuse_port=True).start()
    return runner
