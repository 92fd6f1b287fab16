"""Activation opens its destinations through the kinds' registry: a stored webhook destination
becomes the registry's signed webhook, against a real aiohttp server on loopback (the kind's own
answers and signatures are tested in destinations/test_webhook.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from pathlib import Path

import orjson
from aiohttp import web

from cdp.activation.adapters import destination_opener, local_destinations_allowed
from cdp.activation.destinations.port import Message
from cdp.activation.destinations.webhook import WebhookDestination
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.platform.launcher import LOCAL_PROFILE_ENV

SECRET = "whsec_" + base64.b64encode(b"a signing secret of 24+ bytes").decode()


def message(n: int = 1) -> Message:
    return Message(f"d-{n}", "p-1", "entered", {"plan": "pro"}, b'{"plan": "pro"}', "2026-12-01T00:00:00Z")


def test_local_destinations_are_allowed_only_when_the_environment_says_so():
    assert not local_destinations_allowed({})
    assert not local_destinations_allowed({"CDP_ALLOW_LOCAL_DESTINATIONS": "0"})
    assert local_destinations_allowed({"CDP_ALLOW_LOCAL_DESTINATIONS": "1"})
    # The launcher (cdp up, benches, end-to-end tests) is the local profile; deployments are not.
    assert LOCAL_PROFILE_ENV == {"CDP_ALLOW_LOCAL_DESTINATIONS": "1"}
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    texts = [p.read_text(errors="replace") for p in deploy.rglob("*") if p.is_file()]
    assert texts and not any("CDP_ALLOW_LOCAL_DESTINATIONS" in t for t in texts)


def test_a_stored_webhook_opens_as_the_registry_kind_signed_with_its_delivery_id():
    async def scenario():
        seen: list[web.Request] = []
        bodies: list[bytes] = []

        async def receive(request: web.Request) -> web.Response:
            seen.append(request)
            bodies.append(await request.read())
            return web.Response(status=200 if len(seen) == 1 else 503, headers={"Retry-After": "3"})

        app = web.Application()
        app.router.add_post("/hook", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/hook"
        stored = pb.Destination(
            destination_id="x", type="webhook", url=url, config_json=orjson.dumps({"url": url}).decode()
        )
        hook = destination_opener(local=True)(stored, {"secret": SECRET})
        try:
            assert isinstance(hook, WebhookDestination)
            [first] = await hook.send([message(1)])
            [second] = await hook.send([message(2)])
            assert first.ok and first.status == 200
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
        # Not local: the same loopback destination is refused at connection, never sent to.
        refused = destination_opener(local=False)(stored, {"secret": SECRET})
        [outcome] = await refused.send([message(3)])
        await refused.close()
        assert not outcome.ok and not outcome.retryable and "egress refused" in outcome.error
        assert len(seen) == 2

    asyncio.run(scenario())
