"""Under overload the tracking API answers 429 with Retry-After (SDKs back off and retry)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from cdp.collector import http_api


class NoCollector:
    """Overload is decided before the collector is reached; any use of it is a failure."""

    def __getattr__(self, name):
        raise AssertionError(f"the collector was used ({name}) although the API was overloaded")


def test_overloaded_api_answers_429_with_retry_after():
    async def scenario():
        api = http_api.TrackingApi(NoCollector())
        runner = web.AppRunner(api.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        api.inflight = http_api.MAX_INFLIGHT  # as many requests in flight as it takes
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"http://127.0.0.1:{port}/v1/batch", json={"batch": []}) as response,
            ):
                assert response.status == 429
                assert response.headers["Retry-After"] == str(http_api.RETRY_AFTER_S)
                body = await response.json()
                assert body["code"] == "overloaded" and "retry" in body["message"]
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
