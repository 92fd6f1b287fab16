"""The HTTP tracking API turns bad input away with the documented status, and stores none of it."""

from __future__ import annotations

import gzip
import json
import socket
import uuid
import zlib

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.api.collector.v1 import collector_pb2

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def source(client):
    return client.create_source(f"http-{uuid.uuid4().hex[:6]}", server_side=True)


def stored_count(client, source) -> int:
    return sum(
        1 for m in client.read_messages("collector", collector_pb2.EventAccepted) if m.source_id == source.source_id
    )


def good(**fields) -> dict:
    call = {"type": "track", "messageId": f"m-{uuid.uuid4()}", "userId": "u1", "event": "Clicked"}
    call.update(fields)
    return call


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"x": value}
    return value


def corpus(key: str):
    """(name, path, body bytes, headers, status, words the message must contain)."""
    auth = {"X-Write-Key": key}

    def j(doc) -> bytes:
        return json.dumps(doc).encode()

    return [
        ("malformed JSON", "/v1/batch", b'{"batch": [', auth, 400, "not valid JSON"),
        ("not an object", "/v1/batch", b"[1, 2]", auth, 400, "must be a JSON object"),
        ("batch not a list", "/v1/batch", j({"batch": {"a": 1}}), auth, 400, "batch: must be an array"),
        (
            "userId wrong type",
            "/v1/batch",
            j({"batch": [good(), good(userId={"a": 1})]}),
            auth,
            400,
            "batch[1].userId: must be a string or a number",
        ),
        ("properties wrong type", "/v1/track", j(good(properties=[1, 2])), auth, 400, "properties: must be an object"),
        (
            "missing ids",
            "/v1/batch",
            j({"batch": [good(), {"type": "track", "messageId": "x", "event": "E"}]}),
            auth,
            400,
            "batch[1].userId: userId or anonymousId is required",
        ),
        ("messageId not a string", "/v1/track", j(good(messageId=7)), auth, 400, "messageId: must be a string"),
        ("boolean id", "/v1/track", j(good(userId=True)), auth, 400, "userId: must be a string or a number"),
        ("array id", "/v1/batch", j({"batch": [good(anonymousId=["a"])]}), auth, 400, "batch[0].anonymousId: must be"),
        (
            "context.traits text",
            "/v1/identify",
            j(good(type="identify", context={"traits": "pro"})),
            auth,
            400,
            "context.traits: must be a JSON object",
        ),
        (
            "context.traits list",
            "/v1/batch",
            j({"batch": [good(), good(type="identify", context={"traits": ["pro"]})]}),
            auth,
            400,
            "batch[1].context.traits: must be a JSON object",
        ),
        (
            "timestamp past year 9999 in UTC",
            "/v1/track",
            j(good(timestamp="9999-12-31T23:59:59-10:00")),
            auth,
            400,
            "timestamp: must lie within years 1900..2999 (UTC)",
        ),
        (
            "originalTimestamp before year 1 in UTC",
            "/v1/track",
            j(good(originalTimestamp="0001-01-01T00:00:00+10:00")),
            auth,
            400,
            "originalTimestamp: must lie within years 1900..2999 (UTC)",
        ),
        (
            "clock correction out of range",
            "/v1/track",
            j(good(originalTimestamp="1900-01-01T00:00:00Z", sentAt="2999-12-31T00:00:00Z")),
            auth,
            400,
            "originalTimestamp: corrected by sentAt",
        ),
        (
            "NaN in properties",
            "/v1/track",
            b'{"userId": 1, "event": "E", "properties": {"x": NaN}}',
            auth,
            400,
            "not valid JSON",
        ),
        ("missing event name", "/v1/track", j(good(event="")), auth, 400, "event: is required for track"),
        ("unknown type", "/v1/batch", j({"batch": [good(type="click")]}), auth, 400, "type: must be one of"),
        (
            "type does not match path",
            "/v1/identify",
            j(good()),
            auth,
            400,
            "type: must be 'identify' (or absent) on /v1/identify",
        ),
        (
            "a type that is no call type is not echoed",
            "/v1/track",
            j(good(type="ada@example.com")),
            {"X-Write-Key": "nope"},
            400,
            "type: must be 'track' (or absent) on /v1/track",
        ),
        (
            "deeper than JSON is written, in a key no call reads",
            "/v1/track",
            j(good(integrations=deep(300))),
            {"X-Write-Key": "nope"},
            400,
            "event: nests deeper than 32 levels",
        ),
        (
            "the same in a batch",
            "/v1/batch",
            j({"batch": [good(), good(integrations=deep(300))]}),
            auth,
            400,
            "batch[1]: nests deeper than 32 levels",
        ),
        ("bad timestamp", "/v1/track", j(good(timestamp="next tuesday")), auth, 400, "timestamp: must be an ISO 8601"),
        (
            "oversize event",
            "/v1/batch",
            j({"batch": [good(properties={"x": "y" * 33_000})]}),
            auth,
            413,
            "batch[0]: larger than 32768 bytes",
        ),
        (
            "oversize batch",
            "/v1/batch",
            j({"batch": [good(properties={"x": "y" * 20_000}) for _ in range(30)]}),
            auth,
            413,
            "500 KB",
        ),
        ("too many events", "/v1/batch", j({"batch": [good() for _ in range(2501)]}), auth, 413, "the limit is 2500"),
        ("bad gzip", "/v1/batch", b"\x1f\x8bnot really gzip", auth, 400, "not valid gzip"),
        ("truncated gzip", "/v1/batch", gzip.compress(j({"batch": [good()]}))[:-12], auth, 400, "gzip"),
        (
            "junk after gzip",
            "/v1/batch",
            gzip.compress(j({"batch": [good()]})) + b"trailing junk",
            auth,
            400,
            "data after the end of the gzip stream",
        ),
        (
            "deflate",
            "/v1/batch",
            zlib.compress(j({"batch": [good()]})),
            {**auth, "Content-Encoding": "deflate"},
            415,
            "Content-Encoding: must be gzip or none",
        ),
        (
            "brotli named, plain sent",
            "/v1/batch",
            j({"batch": [good()]}),
            {**auth, "Content-Encoding": "br"},
            415,
            "Content-Encoding: must be gzip or none",
        ),
        (
            "gzip bomb",
            "/v1/batch",
            gzip.compress(b'{"batch": [' + b" " * 2_000_000 + b"]}"),
            auth,
            413,
            "inflates to more than",
        ),
        (
            "unknown write key",
            "/v1/batch",
            j({"batch": [good()]}),
            {"X-Write-Key": "nope"},
            401,
            "unknown or disabled write key",
        ),
        ("no write key", "/v1/batch", j({"batch": [good()]}), {}, 401, "writeKey: missing"),
        (
            "bad basic auth",
            "/v1/batch",
            j({"batch": [good()]}),
            {"Authorization": "Basic !!!"},
            401,
            "malformed basic credentials",
        ),
        (
            "deep nesting",
            "/v1/track",
            j(good(properties=deep(600))),
            auth,
            400,
            "properties: nests deeper than 32 levels",
        ),
        ("huge string id", "/v1/track", j(good(userId="u" * 10_000)), auth, 400, "userId: is longer than"),
        (
            "invalid UTF-8",
            "/v1/batch",
            b'{"batch": [{"type": "track", "event": "\xff\xfe"}]}',
            auth,
            400,
            "not valid JSON",
        ),
    ]


def test_bad_requests_get_their_status_and_store_nothing(client, http_url, source):
    before = stored_count(client, source)
    failures = []
    for name, path, body, headers, status, words in corpus(source.write_key):
        response = requests.post(
            http_url + path, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10
        )
        document = response.json()
        if response.status_code != status or words not in document.get("message", "") or "code" not in document:
            failures.append(f"{name}: {response.status_code} {document}")
    assert not failures, "\n".join(failures)
    assert stored_count(client, source) == before


def test_write_key_in_body_and_gzip_whatever_the_content_type(client, http_url, source):
    call = good(writeKey=source.write_key)
    body = gzip.compress(json.dumps(call).encode())
    response = requests.post(
        f"{http_url}/v1/track", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert any(
        m.event.message_id == call["messageId"] for m in client.read_messages("collector", collector_pb2.EventAccepted)
    )


def test_every_member_of_a_gzip_body_is_read(client, http_url, source):
    calls = [good(), good()]
    text = json.dumps({"batch": calls}).encode()
    body = gzip.compress(text[:20]) + gzip.compress(text[20:])  # two members, as `cat a.gz b.gz`
    response = requests.post(
        f"{http_url}/v1/batch", data=body, auth=(source.write_key, ""), headers={"Content-Encoding": "gzip"}, timeout=10
    )
    assert response.status_code == 200, response.text
    stored = {m.event.message_id for m in client.read_messages("collector", collector_pb2.EventAccepted)}
    assert {c["messageId"] for c in calls} <= stored


def test_identify_traits_in_context_and_clock_skew(client, http_url, source):
    call = {
        "type": "identify",
        "messageId": f"m-{uuid.uuid4()}",
        "userId": "skewed",
        "traits": {"plan": "pro"},
        "context": {"traits": {"company": "Acme"}},
        "originalTimestamp": "2030-01-01T00:00:00.000Z",
        "sentAt": "2030-01-01T00:00:05.000Z",
    }
    response = requests.post(f"{http_url}/v1/identify", json=call, auth=(source.write_key, ""), timeout=10)
    assert response.status_code == 200
    stored = next(
        m
        for m in client.read_messages("collector", collector_pb2.EventAccepted)
        if m.event.message_id == call["messageId"]
    )
    # The device clock ran 5 s fast relative to when it sent: the event happened 5 s before it was received.
    from cdp.platform.clock import parse_iso

    skew = parse_iso(stored.event.received_at) - parse_iso(stored.event.timestamp)
    assert abs(skew.total_seconds() - 5.0) < 0.01
    assert stored.event.original_timestamp == call["originalTimestamp"] and stored.event.sent_at == call["sentAt"]
    assert json.loads(stored.event.context)["traits"] == {"company": "Acme"}


def stored_call(client, message_id: str):
    return next(
        m.event
        for m in client.read_messages("collector", collector_pb2.EventAccepted)
        if m.event.message_id == message_id
    )


def test_a_call_without_message_id_gets_one(client, http_url, source):
    call = good(userId=f"no-id-{uuid.uuid4().hex[:6]}")
    del call["messageId"]
    for _ in range(2):
        response = requests.post(f"{http_url}/v1/track", json=call, auth=(source.write_key, ""), timeout=10)
        assert response.status_code == 200, response.text
    mine = [
        m.event
        for m in client.read_messages("collector", collector_pb2.EventAccepted)
        if m.event.user_id == call["userId"]
    ]
    assert len(mine) == 2, "each call was given its own messageId, as Segment does"
    assert all(uuid.UUID(e.message_id).version == 4 for e in mine)


def test_number_ids_keep_their_exact_digits(client, http_url, source):
    big = 18446744073709551617  # 2**64 + 1; as a float it is 1.8446744073709552e+19, as is 2**64
    first, second = f"m-{uuid.uuid4()}", f"m-{uuid.uuid4()}"
    body = (
        f'{{"batch": [{{"type": "track", "messageId": "{first}", "userId": {big}, "event": "E"}},'
        f' {{"type": "group", "messageId": "{second}", "userId": {big - 1}, "groupId": 1e3, "anonymousId": 42}}]}}'
    )
    response = requests.post(f"{http_url}/v1/batch", data=body, auth=(source.write_key, ""), timeout=10)
    assert response.status_code == 200, response.text
    assert stored_call(client, first).user_id == "18446744073709551617"
    grouped = stored_call(client, second)
    assert (grouped.user_id, grouped.group_id, grouped.anonymous_id) == ("18446744073709551616", "1000", "42")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
call_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias", "x"]) | json_values,
        "messageId": st.text(max_size=10) | json_values,
        "userId": st.text(max_size=10) | json_values,
        "anonymousId": st.text(max_size=10),
        "event": st.text(max_size=10) | json_values,
        "properties": json_values,
        "traits": json_values,
        "context": json_values,
        "timestamp": st.text(max_size=30),
        "groupId": json_values,
        "previousId": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(
        st.dictionaries(
            st.sampled_from(["batch", "sentAt", "context"]), st.lists(call_fields, max_size=5) | json_values
        ),
        json_values,
        st.binary(max_size=200),
    )
)
def test_fuzzed_http_payloads_never_cause_a_server_fault(http_url, source, payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = requests.post(f"{http_url}/v1/batch", data=body, headers={"X-Write-Key": source.write_key}, timeout=10)
    assert response.status_code in (200, 400, 413), (response.status_code, response.text)
    assert "code" in response.json() or response.json() == {"success": True}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_fields, max_size=5))
def test_fuzzed_grpc_batches_are_acknowledged_per_event(client, source, calls):
    from cdp.api.common.v1 import event_pb2

    events = []
    for call in calls:
        fields = {
            k: v
            for k, v in {
                "type": call.get("type"),
                "message_id": call.get("messageId"),
                "user_id": call.get("userId"),
                "event": call.get("event"),
                "properties": json.dumps(call["properties"]) if "properties" in call else None,
                "timestamp": call.get("timestamp"),
            }.items()
            if isinstance(v, str)
        }
        events.append(event_pb2.Event(**fields))
    response = client.ingest(source.write_key, events)
    assert len(response.acks) == len(events)
    assert response.accepted + response.duplicates + response.rejected == len(events)
    for ack in response.acks:
        if ack.status == collector_pb2.ACK_STATUS_REJECTED:
            assert ack.field and ack.error


# Requests that are not HTTP at all, on the tracking API and the probe port (no token needed).

NOT_HTTP = [
    b"POST /v1/track HTTP/1.1\r\nHost: x\r\nX-Who: cy@example.com\x00\r\n\r\n",
    b"GET /metrics?x=kim@example.com\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: hal@example.com\r\n\r\n",
    b"POST /v1/track HTTP/1.1\r\nHost: x\r\nX-Long: " + b"hal@example.com" * 700 + b"\r\n\r\n",
    b"POST /v1/track HTTP/7.3\r\nHost: jo@example.com\r\n\r\n",
]


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_a_request_that_is_not_http_gets_a_bare_400_and_refusals_are_logged_rarely(platform):
    log_path = platform.log_path("collector")
    seen = len(log_path.read_text().splitlines())
    for port in (platform.http_port, platform.probe_ports["collector"]):
        for data in NOT_HTTP:
            answer = raw_exchange(port, data)
            assert answer.split(b" ", 2)[1] == b"400", answer[:200]  # HTTP/1.0 to a bad version
            assert b"example.com" not in answer, answer[:300]
            assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"code": "bad_request", "message": "400 Bad Request"}
    for _ in range(300):  # a flood from one client
        raw_exchange(platform.probe_ports["collector"], NOT_HTTP[0])
    lines = [json.loads(line) for line in log_path.read_text().splitlines()[seen:] if line.strip()]
    about = [e for e in lines if e["logger"] in ("cdp.platform.http_refusals", "aiohttp.server")]
    assert 1 <= len(about) <= 5, about
    assert all(e["level"] == "info" and "127.0.0.1" not in json.dumps(e) for e in about), about
