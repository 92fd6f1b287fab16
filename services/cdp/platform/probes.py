"""Liveness and readiness over plain HTTP, for orchestrators that cannot present a client
certificate (a kubelet's httpGet probe, a compose healthcheck).

- `GET /healthz`: 200 while the process runs and its event loop answers.
- `GET /readyz`: 200 when every readiness check passes, else 503; the JSON body names each check
  with its detail, failing ones under "failing".
- `GET /metrics`: the service's gauges in Prometheus' text format (followers' positions, lag and
  parked events), when the service gives them.

A readiness check is `name -> callable returning (ok, detail)`; the callable may be a coroutine
function. Plain callables run on a worker thread (a store query must not hold up the event loop
that serves gRPC) and every check has a time limit, past which it fails. A check still running
from an earlier request is awaited again rather than started twice, so a hung database does not
pile up threads. The port serves nothing else: no data, no credentials, nothing to authorise.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from cdp.platform import http_refusals

log = logging.getLogger(__name__)

CheckResult = tuple[bool, str]
Check = Callable[[], CheckResult | Awaitable[CheckResult]]
CHECK_TIMEOUT = 2.0  # seconds; a kubelet's default probe timeout is 1 s, so it reads 503 or times out alike


class Probes:
    def __init__(
        self,
        host: str,
        port: int,
        checks: Mapping[str, Check] | None = None,
        *,
        timeout: float = CHECK_TIMEOUT,
        metrics: Callable[[], str] | None = None,
    ):
        self.metrics = metrics
        self.host = host
        self.port = port
        self.timeout = timeout
        self.checks: dict[str, Check] = dict(checks or {})
        self._running: dict[str, asyncio.Future[Any]] = {}
        self._runner: web.AppRunner | None = None

    def add(self, name: str, check: Check) -> None:
        """Add a readiness check (a follower within its lag bound, a peer reachable, ...)."""
        self.checks[name] = check

    async def readiness(self) -> dict[str, CheckResult]:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, name: str) -> CheckResult:
        check = self.checks[name]
        future = self._running.get(name)
        if future is None or future.done():
            if inspect.iscoroutinefunction(check):
                future = asyncio.ensure_future(check())
            else:
                future = asyncio.ensure_future(asyncio.to_thread(check))
            self._running[name] = future
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            return False, f"no answer within {self.timeout:g}s"
        except Exception as error:
            message = (str(error).splitlines() or [""])[0][:200]
            return False, f"{type(error).__name__}: {message}"
        if inspect.isawaitable(result):  # a plain callable that returned a coroutine
            result = await asyncio.wait_for(result, self.timeout)
        ok, detail = result
        return bool(ok), str(detail)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        results = await self.readiness()
        failing = [name for name, (ok, _) in results.items() if not ok]
        body = {
            "ready": not failing,
            "failing": failing,
            "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
        }
        return web.json_response(body, status=503 if failing else 200)

    async def _metrics(self, _request: web.Request) -> web.Response:
        text = self.metrics() if self.metrics else ""
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> int:
        """Listen; returns the port (useful when asked for port 0). Raises when it cannot bind."""
        http_refusals.install()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = self._runner.addresses[0][1]
        log.info("probes on http://%s:%d (/healthz, /readyz)", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for future in self._running.values():
            future.cancel()


class Serving(Protocol):
    serving: bool  # from start until stop begins draining


def serving(service: Serving) -> Check:
    """Ready while the gRPC server serves (from start until stop begins draining)."""

    async def check() -> CheckResult:
        return (True, "serving") if service.serving else (False, "not serving (starting or stopping)")

    return check
