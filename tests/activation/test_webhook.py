"""The webhook kind behind the destinations port, against a real aiohttp server on loopback: HTTP
answers as outcomes, Retry-After, and Standard Webhooks signatures."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from cdp.activation.adapters import HttpWebhook, outcome_of, retry_after
from cdp.activation.destinations.port import Message

SECRET = "whsec_" + base64.b64encode(b"a signing secret of 24+ bytes").decode()


def message(n: int = 1) -> Message:
    return Message(f"d-{n}", "p-1", "entered", {"plan": "pro"}, b'{"plan": "pro"}', "2026-12-01T00:00:00Z")


@pytest.mark.parametrize(
    "status, ok, retryable, disable",
    [
        (200, True, True, False),
        (204, True, True, False),
        (500, False, True, False),
        (503, False, True, False),
        (408, False, True, False),
        (429, False, True, False),
        (400, False, False, False),
        (404, False, False, False),
        (410, False, False, True),
        (301, False, False, False),
    ],
)
def test_statuses_as_outcomes(status, ok, retryable, disable):
    found = outcome_of(status, None, 1.0)
    assert (found.ok, found.retryable if not ok else True, found.disable) == (ok, retryable, disable)
    assert found.status == status


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < (retry_after(format_datetime(later, usegmt=True)) or 0) <= 30
    assert outcome_of(503, "2", 1.0).retry_after_s == 2.0
    assert outcome_of(400, "2", 1.0).retry_after_s is None  # not retried at all


def test_posts_sign_and_map_answers_over_http():
    async def scenario():
        answers = iter([web.Response(status=200), web.Response(status=503, headers={"Retry-After": "3"})])
        seen: list[web.Request] = []
        bodies: list[bytes] = []

        async def receive(request: web.Request) -> web.Response:
            seen.append(request)
            bodies.append(await request.read())
            return next(answers)

        app = web.Application()
        app.router.add_post("/hook", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        hook = HttpWebhook(f"http://127.0.0.1:{port}/hook", SECRET)
        try:
            first, second = await hook.send([message(1), message(2)])
            assert first.ok and first.status == 200 and first.latency_ms > 0
            assert not second.ok and second.retryable and second.retry_after_s == 3.0
            headers = seen[0].headers
            assert headers["webhook-id"] == headers["X-CDP-Delivery"] == "d-1"
            signed = f"d-1.{headers['webhook-timestamp']}.".encode() + bodies[0]
            key = base64.b64decode(SECRET.removeprefix("whsec_"))
            expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            assert headers["webhook-signature"] == f"v1,{expected}"
        finally:
            await hook.close()
            await runner.cleanup()
        # Nobody listening: a retryable failure, never an exception.
        gone = HttpWebhook(f"http://127.0.0.1:{port}/hook")
        [refused] = await gone.send([message()])
        await gone.close()
        assert not refused.ok and refused.retryable and refused.status == 0 and refused.error

    asyncio.run(scenario())
