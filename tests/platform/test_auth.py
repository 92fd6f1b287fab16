"""The auth interceptor on a real grpc.aio server: who gets in, who is refused, and with what reason."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cdp.platform.auth import AuthInterceptor, current_caller
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.tls import channel_credentials, ensure_ca_and_certs, server_credentials
from cdp.platform.tokens import TokenIssuer, TokenVerifier

POLICIES = Path(__file__).resolve().parents[2] / "policies"
KEY = Ed25519PrivateKey.generate()
VERIFIER = TokenVerifier(KEY.public_key())
ISSUER = TokenIssuer(KEY)
WHO = "/test.Who/Me"


def describe() -> bytes:
    c = current_caller()
    return f"{c.kind} {c.subject} [{','.join(c.roles)}] via {c.service} decision {c.decision_id}".encode()


async def who(request: bytes, context) -> bytes:
    return describe()


async def who_stream(request: bytes, context):
    for _ in range(2):
        yield describe()


async def who_written(request: bytes, context) -> None:
    await context.write(describe())


async def who_client_stream(requests, context) -> bytes:
    count = 0
    async for _ in requests:
        count += 1
    return describe() + f" after {count}".encode()


HANDLERS = grpc.method_handlers_generic_handler(
    "test.Who",
    {
        "Me": grpc.unary_unary_rpc_method_handler(who),
        "Stream": grpc.unary_stream_rpc_method_handler(who_stream),
        "Written": grpc.unary_stream_rpc_method_handler(who_written),
        "Count": grpc.stream_unary_rpc_method_handler(who_client_stream),
    },
)


def role_decide(method: str, caller: dict) -> tuple[bool, str, str]:
    """Admins and services may call; others are refused, naming the method."""
    if "admin" in caller["roles"] or caller["kind"] == "service":
        return True, "", "d-allow"
    return False, f"{caller['subject']} may not call {method}", "d-deny"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return ensure_ca_and_certs(tmp_path_factory.mktemp("tls"))


def run(tls, scenario, *, decide=role_decide, require_mtls=True, secure=True, verifier=VERIFIER):
    async def main():
        server = grpc.aio.server(interceptors=[AuthInterceptor(decide, verifier, require_mtls=require_mtls)])
        server.add_generic_rpc_handlers((HANDLERS,))
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        if secure:
            port = server.add_secure_port("127.0.0.1:0", server_credentials(tls, "profile"))
        else:
            port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            await scenario(f"127.0.0.1:{port}")
        finally:
            await server.stop(None)

    asyncio.run(main())


def channel(tls, address: str, identity: str | None = "cli") -> grpc.aio.Channel:
    if identity is None:
        return grpc.aio.insecure_channel(address)
    return grpc.aio.secure_channel(address, channel_credentials(tls, identity))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def call(ch: grpc.aio.Channel, metadata=(), method: str = WHO) -> str:
    return (await ch.unary_unary(method)(b"", metadata=metadata, timeout=5)).decode()


async def refused(ch: grpc.aio.Channel, metadata=(), method: str = WHO) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(ch, metadata, method)
    return error.value


def test_no_credentials_is_unauthenticated(tls):
    async def scenario(address):
        async with channel(tls, address, None) as ch:
            error = await refused(ch)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details() == "no credentials: present a client certificate or a bearer token"

    run(tls, scenario, require_mtls=False, secure=False)


def test_a_token_without_mtls_where_mtls_is_required_is_unauthenticated(tls):
    async def scenario(address):
        async with channel(tls, address, None) as ch:
            error = await refused(ch, bearer(ISSUER.issue("ana", ["admin"])))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "client certificate" in error.details()

    run(tls, scenario, require_mtls=True, secure=False)


def test_a_bad_token_is_unauthenticated(tls):
    async def scenario(address):
        async with channel(tls, address) as ch:
            error = await refused(ch, bearer("not-a-token"))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details().startswith("invalid bearer token: malformed")
            forged = TokenIssuer(Ed25519PrivateKey.generate()).issue("ana", ["admin"])
            error = await refused(ch, bearer(forged))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "bad signature" in error.details()
            error = await refused(ch, (("authorization", "Basic YW5hOnB3"),))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details() == "authorization metadata must be 'Bearer <token>'"

    run(tls, scenario)


def test_a_token_where_tokens_are_not_accepted_is_unauthenticated(tls):
    async def scenario(address):
        async with channel(tls, address) as ch:
            error = await refused(ch, bearer(ISSUER.issue("ana", ["admin"])))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details() == "this service does not accept bearer tokens"

    run(tls, scenario, verifier=None)


def test_an_expired_token_is_unauthenticated(tls):
    expired = TokenIssuer(KEY, clock=lambda: time.time() - 7200).issue("ana", ["admin"], ttl_s=3600)

    async def scenario(address):
        async with channel(tls, address) as ch:
            error = await refused(ch, bearer(expired))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details().startswith("invalid bearer token: expired")

    run(tls, scenario)


def test_a_refused_role_is_permission_denied_with_reason_and_decision(tls):
    async def scenario(address):
        async with channel(tls, address) as ch:
            error = await refused(ch, bearer(ISSUER.issue("bo", ["analyst"])))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error.details() == f"bo may not call {WHO} (decision d-deny)"
            assert ("cdp-decision-id", "d-deny") in tuple(error.trailing_metadata())

    run(tls, scenario)


def test_allowed_callers_reach_the_servicer_as_themselves(tls):
    seen = []

    def decide(method, caller):
        seen.append((method, caller))
        return role_decide(method, caller)

    async def scenario(address):
        async with channel(tls, address, "cli") as ch:
            assert (
                await call(ch, bearer(ISSUER.issue("ana", ["admin", "analyst"])))
                == "user ana [admin,analyst] via cli decision d-allow"
            )
        async with channel(tls, address, "segment") as ch:
            assert await call(ch) == "service segment [service] via segment decision d-allow"
            stream = ch.unary_stream("/test.Who/Stream")(b"", timeout=5)
            assert [r.decode() async for r in stream] == ["service segment [service] via segment decision d-allow"] * 2
            written = ch.unary_stream("/test.Who/Written")(b"", timeout=5)
            assert [r.decode() async for r in written] == ["service segment [service] via segment decision d-allow"]

            async def requests():
                for _ in range(3):
                    yield b""

            counted = await ch.stream_unary("/test.Who/Count")(requests(), timeout=5)
            assert counted.decode().endswith("after 3")

    run(tls, scenario, decide=decide)
    assert seen[0] == (WHO, {"subject": "ana", "kind": "user", "roles": ["admin", "analyst"]})
    assert seen[1] == (WHO, {"subject": "segment", "kind": "service", "roles": ["service"]})


def test_concurrent_calls_each_see_their_own_caller(tls):
    async def decide(method, caller):  # a coroutine decide works too
        await asyncio.sleep(0.01)
        return True, "", "d"

    async def scenario(address):
        async with channel(tls, address) as ch:
            names = [f"user{i}" for i in range(20)]
            answers = await asyncio.gather(*(call(ch, bearer(ISSUER.issue(n, ["x"]))) for n in names))
            assert [a.split()[1] for a in answers] == names

    run(tls, scenario, decide=decide)


def test_health_needs_only_a_certificate(tls):
    def decide(method, caller):
        raise AssertionError("health checks are not decided")

    async def scenario(address):
        async with channel(tls, address, "cli") as ch:
            response = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING

    run(tls, scenario, decide=decide)


def test_with_the_access_policy(tls):
    engine = make_engine("embedded", load_bundle(POLICIES))

    def decide(method, caller):
        result = engine.evaluate("data.cdp.access.decision", {"method": method, "caller": caller})
        return result["allow"], "; ".join(result["reasons"]), "d-policy"

    audience = "/cdp.segment.v1.SegmentService/CreateAudience"
    read = "/cdp.eventlog.v1.EventLogService/Read"

    async def scenario(address):
        async with channel(tls, address, "cli") as ch:
            ok = await call(ch, bearer(ISSUER.issue("ana", ["marketer"])), audience)
            assert ok.startswith("user ana [marketer]")
            error = await refused(ch, bearer(ISSUER.issue("bo", ["analyst"])), audience)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error.details() == (
                f"bo may not call {audience}: needs one of the roles [admin, marketer] (decision d-policy)"
            )
            # The cli certificate alone is no service.
            error = await refused(ch, (), read)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        async with channel(tls, address, "activation") as ch:
            assert (await call(ch, (), read)).startswith("service activation")

    server_handlers = grpc.method_handlers_generic_handler(
        "cdp.segment.v1.SegmentService", {"CreateAudience": grpc.unary_unary_rpc_method_handler(who)}
    )
    eventlog = grpc.method_handlers_generic_handler(
        "cdp.eventlog.v1.EventLogService", {"Read": grpc.unary_unary_rpc_method_handler(who)}
    )

    async def main():
        server = grpc.aio.server(
            interceptors=[AuthInterceptor(decide, TokenVerifier(KEY.public_key()), require_mtls=True)]
        )
        server.add_generic_rpc_handlers((server_handlers, eventlog))
        port = server.add_secure_port("127.0.0.1:0", server_credentials(tls, "segment"))
        await server.start()
        try:
            await scenario(f"127.0.0.1:{port}")
        finally:
            await server.stop(None)

    asyncio.run(main())


def test_current_caller_outside_a_call_says_so():
    with pytest.raises(LookupError, match="AuthInterceptor"):
        current_caller()
