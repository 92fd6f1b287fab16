"""A webhook receiver on aiohttp for delivery tests: a real HTTP server on loopback, run on its
own event loop in a thread, that can be down (not listening), answer a status (with Retry-After),
or answer slowly. It records every POST it answered 2xx, with when it came."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Got:
    delivery_id: str
    body: Any
    at: float  # time.time() when it arrived
    headers: dict[str, str]
    raw: bytes  # the body as it came (what a signature covers)


class Receiver:
    def __init__(self) -> None:
        self.delivered: list[Got] = []
        self.answered: list[tuple[str, int, float]] = []  # (delivery id, status, time.time()) of every POST
        self.status = 200
        self.retry_after: str | None = None
        self.delay_s = 0.0
        self.port = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="aiohttp-receiver", daemon=True)

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        delivery_id = request.headers.get("X-CDP-Delivery", "")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.status
        with self._lock:
            self.answered.append((delivery_id, status, time.time()))
            if status < 300:
                self.delivered.append(Got(delivery_id, body, time.time(), dict(request.headers), raw))
        headers = {"Retry-After": self.retry_after} if self.retry_after and status >= 300 else {}
        return web.json_response({"ok": status < 300}, status=status, headers=headers)

    def _call(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _up(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> Receiver:
        self._thread.start()
        self._call(self._up())
        return self

    def up(self) -> None:
        """Listen again, on the same port."""
        self._call(self._up())

    def down(self) -> None:
        """Stop listening: connections are refused."""
        self._call(self._down())

    def stop(self) -> None:
        self._call(self._down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self) -> list[Got]:
        with self._lock:
            return list(self.delivered)

    def wait(self, check: Callable[[list[Got]], bool], timeout: float, what: str) -> list[Got]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.got()
            if check(found):
                return found
            time.sleep(0.05)
        raise TimeoutError(f"receiver: {what} not reached in {timeout}s; got {len(self.got())}")

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
