"""Mutual TLS: a real grpc.aio server that admits only clients with a certificate from its CA."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cdp.platform.tls import channel_credentials, ensure_ca_and_certs, peer_service, server_credentials


class RecordingHealth(health.aio.HealthServicer):
    """The health servicer, noting who called."""

    def __init__(self):
        super().__init__()
        self.peers: list[str | None] = []

    async def Check(self, request, context):
        self.peers.append(peer_service(context))
        return await super().Check(request, context)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return ensure_ca_and_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return ensure_ca_and_certs(tmp_path_factory.mktemp("other-tls"), services=("segment",))


def test_files_are_made_once_with_private_keys(tls):
    for name in ("ca", "collector", "identity", "profile", "segment", "activation", "cli"):
        assert tls.key(name).stat().st_mode & 0o777 == 0o600
        assert tls.cert(name).exists()
    before = {p.name: p.read_bytes() for p in tls.dir.iterdir()}
    ensure_ca_and_certs(tls.dir)
    assert {p.name: p.read_bytes() for p in tls.dir.iterdir()} == before

    cert = x509.load_pem_x509_certificate(tls.cert("segment").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=segment"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert str(next(iter(san.get_values_for_type(x509.IPAddress)))) == "127.0.0.1"
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(tls.ca_pem()))


def test_a_new_service_gets_a_certificate_from_the_same_ca(tls):
    ca = tls.ca_pem()
    ensure_ca_and_certs(tls.dir, services=("audit",))
    assert tls.ca_pem() == ca
    assert x509.load_pem_x509_certificate(tls.cert("audit").read_bytes()).subject.rfc4514_string() == "CN=audit"


async def _serve(tls):
    server = grpc.aio.server()
    servicer = RecordingHealth()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(tls, "profile"))
    await server.start()
    return server, servicer, f"127.0.0.1:{port}"


async def _check(address: str, credentials: grpc.ChannelCredentials) -> int:
    async with grpc.aio.secure_channel(address, credentials) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return response.status


def test_a_client_with_a_certificate_from_the_ca_is_admitted_and_named(tls):
    async def scenario():
        server, servicer, address = await _serve(tls)
        try:
            assert await _check(address, channel_credentials(tls, "segment")) == health_pb2.HealthCheckResponse.SERVING
            assert await _check(address, channel_credentials(tls, "cli")) == health_pb2.HealthCheckResponse.SERVING
            assert servicer.peers == ["segment", "cli"]
        finally:
            await server.stop(None)

    asyncio.run(scenario())


def test_clients_without_a_certificate_or_from_another_ca_are_refused(tls, other_ca):
    async def scenario():
        server, servicer, address = await _serve(tls)
        try:
            no_cert = grpc.ssl_channel_credentials(root_certificates=tls.ca_pem())
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _check(address, no_cert)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

            # A certificate named "segment", but from another CA (which the client also trusts).
            foreign = grpc.ssl_channel_credentials(
                root_certificates=tls.ca_pem(),
                private_key=other_ca.key("segment").read_bytes(),
                certificate_chain=other_ca.cert("segment").read_bytes(),
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _check(address, foreign)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

            # And a client that trusts only another CA does not accept the server.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _check(address, channel_credentials(other_ca, "segment"))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert servicer.peers == []
        finally:
            await server.stop(None)

    asyncio.run(scenario())
