"""Webhooks against a real aiohttp receiver on loopback that verifies every signature."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from cdp.activation.destinations.registry import check_config, open_destination
from cdp.activation.destinations.webhook import new_webhook_secret, retry_after
from cdp.bench.activation import Answer, SignedReceiver
from cdp.platform.errors import InvalidArgument


def open_local(kind, config, secrets):
    # The servers are on this machine: the connect-time guard would refuse them.
    return open_destination(kind, config, secrets, local=True)


def test_the_secret_is_whsec_and_at_least_24_random_bytes():
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert secret != new_webhook_secret()


async def _with_receiver(secret: str, body, config: dict | None = None):
    receiver = SignedReceiver(secret)
    url = await receiver.start()
    destination = open_local("webhook", {"url": url, **(config or {})}, {"secret": secret})
    try:
        return await body(receiver, destination)
    finally:
        await destination.close()
        await receiver.stop()


def test_every_delivery_verifies_and_the_id_is_the_delivery_id(message):
    secret = new_webhook_secret()
    sent = [message(person=f"p{i}") for i in range(20)]

    async def body(receiver, destination):
        first = await destination.send(sent)
        again = await destination.send(sent[:3])  # a retry carries the same webhook-id
        return receiver, first, again

    receiver, first, again = asyncio.run(_with_receiver(secret, body))
    assert [o.ok for o in first + again] == [True] * 23
    assert all(o.status == 200 for o in first)
    assert receiver.rejected == 0
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert sorted(ids[:20]) == sorted(m.delivery_id for m in sent)
    assert ids[20:] == [m.delivery_id for m in sent[:3]]
    bodies = {headers["webhook-id"]: raw for headers, raw in receiver.received}
    assert bodies[sent[0].delivery_id] == sent[0].body


def test_a_tampered_body_or_another_secret_does_not_verify(message):
    secret = new_webhook_secret()
    m = message()
    destination = open_local("webhook", {"url": "https://hooks.example.com/x"}, {"secret": secret})
    headers = destination.headers(m)
    Webhook(secret).verify(m.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(m.body.replace(b"pro", b"pr0"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(m.body, headers)

    async def tampered(receiver, _destination):
        # The receiver answers 400 to what does not verify, and the destination does not retry that.
        forged = open_local("webhook", {"url": receiver.url}, {"secret": new_webhook_secret()})
        try:
            return receiver, await forged.send([m])
        finally:
            await forged.close()

    receiver, outcomes = asyncio.run(_with_receiver(secret, tampered))
    assert receiver.rejected == 1 and not receiver.received
    assert outcomes[0].status == 400 and not outcomes[0].ok and not outcomes[0].retryable


def test_during_a_rotation_both_signatures_are_sent_and_either_secret_verifies(message):
    old, new = new_webhook_secret(), new_webhook_secret()
    m = message()
    destination = open_local("webhook", {"url": "https://hooks.example.com/x"}, {"secret": new, "previous_secret": old})
    headers = destination.headers(m)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    Webhook(old).verify(m.body, headers)
    Webhook(new).verify(m.body, headers)

    async def body(receiver, _):
        rotated = open_local("webhook", {"url": receiver.url}, {"secret": new, "previous_secret": old})
        try:
            return await rotated.send([m])
        finally:
            await rotated.close()

    # Receivers that still hold the old secret, and those that moved to the new one, both accept it.
    assert asyncio.run(_with_receiver(old, body))[0].ok
    assert asyncio.run(_with_receiver(new, body))[0].ok


def _answered(message, *answers: Answer, config: dict | None = None):
    secret = new_webhook_secret()

    async def body(receiver, destination):
        receiver.script = list(answers)
        return [(await destination.send([message()]))[0] for _ in answers]

    return asyncio.run(_with_receiver(secret, body, config))


def test_outcomes_by_status(message):
    date = email.utils.formatdate(time.time() + 120, usegmt=True)
    gone, throttled, dated, unavailable, bad, moved, created = _answered(
        message,
        Answer(410),
        Answer(429, {"Retry-After": "30"}),
        Answer(503, {"Retry-After": date}),
        Answer(503),
        Answer(400),
        Answer(307, {"Location": "/elsewhere"}),  # the receiver itself would answer 200 there
        Answer(201),
    )
    assert (gone.ok, gone.retryable, gone.disable, gone.status) == (False, False, True, 410)
    assert (throttled.retryable, throttled.retry_after_s, throttled.disable) == (True, 30.0, False)
    assert dated.retryable and 100 < dated.retry_after_s <= 120
    assert unavailable.retryable and unavailable.retry_after_s is None and unavailable.status == 503
    assert (bad.ok, bad.retryable, bad.disable) == (False, False, False)
    assert (moved.ok, moved.retryable, moved.status) == (False, False, 307)  # a redirect is not followed
    assert created.ok and created.status == 201


def test_a_timeout_and_a_refused_connection_are_retryable(message):
    (slow,) = _answered(message, Answer(200, delay_s=1.0), config={"timeout_s": 0.2})
    assert not slow.ok and slow.retryable and "timed out" in slow.error

    async def refused():
        with socketserver_port() as port:
            destination = open_local("webhook", {"url": f"http://127.0.0.1:{port}/"}, {"secret": new_webhook_secret()})
        try:
            return (await destination.send([message()]))[0]
        finally:
            await destination.close()

    outcome = asyncio.run(refused())
    assert not outcome.ok and outcome.retryable and outcome.status == 0


def socketserver_port():
    """A port that was free a moment ago and that nothing listens on now."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            number = s.getsockname()[1]
        yield number

    return port()


def test_a_persons_messages_go_in_order_and_none_after_a_failure(message):
    secret = new_webhook_secret()
    first, second, third = (message("p1", record={"n": n}) for n in range(3))
    other = message("p2")

    async def body(receiver, destination):
        ordered = await destination.send([first, second, third])
        arrived = [headers["webhook-id"] for headers, _ in receiver.received]
        receiver.by_id = {first.delivery_id: Answer(503)}
        after_failure = await destination.send([first, second, other])
        return ordered, arrived, after_failure, len(receiver.received)

    ordered, arrived, after_failure, received = asyncio.run(_with_receiver(secret, body))
    assert all(o.ok for o in ordered) and arrived == [first.delivery_id, second.delivery_id, third.delivery_id]
    failed, held, sent = after_failure
    assert failed.status == 503 and failed.retryable
    assert not held.ok and held.retryable and held.error.startswith("not sent")
    assert sent.ok  # another person's message does not wait
    assert received == 5


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("120") == 120.0
    assert retry_after(email.utils.formatdate(1000.0 + 60, usegmt=True), now=1000.0) == 60.0
    assert retry_after(email.utils.formatdate(1000.0 - 60, usegmt=True), now=1000.0) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"url": "ftp://hooks.example.com/"}, "config.url: must be an https URL"),
        ({"url": "http://hooks.example.com/"}, "config.url: must be an https URL"),
        ({"url": "https://user:pw@hooks.example.com/"}, "config.url: must be an https URL with a host and no"),
        ({"url": "https://hooks.example.com/", "secret": "nope"}, "config.secret: must be whsec_"),
        ({"url": "https://hooks.example.com/", "secret": "whsec_c2hvcnQ="}, "config.secret: must hold at least 24"),
        ({"url": "https://hooks.example.com/"}, "config.secret: is required"),
        ({"url": "https://hooks.example.com/", "timeout_s": 0}, "config.timeout_s: must be between"),
        ({"url": "https://hooks.example.com/", "retries": 3}, "config.retries: is not a field"),
    ],
)
def test_bad_configurations_name_the_field(config, field):
    if "secret" not in config and "secret: is required" not in field:
        config = {**config, "secret": new_webhook_secret()}
    with pytest.raises(InvalidArgument) as refused:
        check_config("webhook", config)
    assert str(refused.value).startswith(field)


def test_http_is_allowed_to_loopback_only():
    secret = new_webhook_secret()
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x", "https://hooks.example.com/"):
        check_config("webhook", {"url": url, "secret": secret})
