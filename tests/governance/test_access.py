"""Access control on every RPC of every service, found by server reflection.

Each service is asked (as admin) for every service and method it serves; then every method is called
with credentials that must not get through: no client certificate (plaintext, and TLS trusting the CA
without a certificate), the `cli` certificate without a token, a token signed by another key, an
expired token and an altered one. Only the health check lets a certificate-verified peer in without
a token. Then refusals by policy (PERMISSION_DENIED, with the reason and the decision id, recorded in
the service's decision log) and how personal data reads to callers allowed and not allowed to see it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cdp.client import PermissionDenied
from cdp.client.local import connect
from cdp.platform.config import SERVICES
from cdp.platform.security import bearer, credentials
from cdp.platform.tokens import TokenIssuer, load_private_key
from support.calls import event, trait_condition
from support.governance import (
    ACCESS_DECISION,
    decisions,
    ingest_accepted,
    profile_by,
    rpc_error,
)
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

COMMON = {
    "cdp.eventlog.v1.EventLogService",
    "cdp.ops.v1.OpsService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
}
EXPECTED_SERVICES = {
    "collector": {"cdp.collector.v1.CollectorService"},
    "identity": {"cdp.identity.v1.IdentityService"},
    "profile": {"cdp.profile.v1.ProfileService"},
    "segment": {"cdp.segment.v1.SegmentService"},
    "activation": {"cdp.activation.v1.ActivationService"},
}
FULL_NAMES = {service: name for service, (name,) in EXPECTED_SERVICES.items()}
ALSO_SERVED = {"collector": {"cdp.collector.v1.QualityService"}}  # the collector's quality read models
HEALTH = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}
TIMEOUT = 5


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("access")) as running:
        yield running


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform) as c:
        yield c


# Reflection --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    path: str  # /package.Service/Method
    request_class: type
    client_streaming: bool
    server_streaming: bool


def reflect(platform, service: str) -> tuple[set[str], list[Method]]:
    """The services a platform service lists by reflection, and every method of them, with request
    classes built from the descriptors reflection returns."""
    metadata = platform.metadata("reflector@example.com", ["admin"])
    # Reflection is no API of the platform's own, so not in cdp.client: a raw channel, as any gRPC tool opens.
    with grpc.secure_channel(platform.address(service), credentials(platform.data_dir).client("cli")) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        def ask(
            requests: list[reflection_pb2.ServerReflectionRequest],
        ) -> list[reflection_pb2.ServerReflectionResponse]:
            responses = list(stub.ServerReflectionInfo(iter(requests), metadata=metadata, timeout=TIMEOUT))
            for r in responses:
                assert not r.HasField("error_response"), r
            return responses

        [listed] = ask([reflection_pb2.ServerReflectionRequest(list_services="")])
        names = {s.name for s in listed.list_services_response.service}
        files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        for response in ask([reflection_pb2.ServerReflectionRequest(file_containing_symbol=n) for n in sorted(names)]):
            for blob in response.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
                files.setdefault(proto.name, proto)
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str) -> None:  # dependencies first
        if name in added:
            return
        for dependency in files[name].dependency:
            add(dependency)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)
    methods = []
    for name in sorted(names):
        for m in pool.FindServiceByName(name).methods:
            methods.append(
                Method(
                    f"/{name}/{m.name}",
                    message_factory.GetMessageClass(m.input_type),
                    m.client_streaming,
                    m.server_streaming,
                )
            )
    return names, methods


def attempt(channel: grpc.Channel, method: Method, metadata=()) -> tuple[grpc.StatusCode, str, object]:
    """Call a method with an empty request: (status code, details, first response or None)."""
    serialize, deserialize = (lambda m: m.SerializeToString()), (lambda b: b)
    request = method.request_class()
    kind = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(method.client_streaming, method.server_streaming)]
    call = kind(method.path, request_serializer=serialize, response_deserializer=deserialize)
    argument = iter([request]) if method.client_streaming else request
    try:
        if method.server_streaming:
            responses = call(argument, metadata=metadata, timeout=TIMEOUT)
            first = next(responses)
            responses.cancel()
            return grpc.StatusCode.OK, "", first
        return grpc.StatusCode.OK, "", call(argument, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error.code(), error.details() or "", None


def altered(token: str, roles: list[str]) -> str:
    """The token with its payload rewritten (more roles, a later expiry), its signature kept."""
    version, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(roles=roles, exp=payload["exp"] + 86400)
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{version}.{forged}.{signature}"


# Every method, every bad credential -----------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_method_refuses_callers_without_valid_credentials(platform, service):
    names, methods = reflect(platform, service)
    assert names == EXPECTED_SERVICES[service] | ALSO_SERVED.get(service, set()) | COMMON
    assert len(methods) >= 5 and {m.path for m in methods} >= HEALTH | {
        "/cdp.eventlog.v1.EventLogService/Read",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    }

    address = platform.address(service)
    tls = credentials(platform.data_dir)
    ca_only = grpc.ssl_channel_credentials(root_certificates=tls.tls.ca_pem())
    signing_key = load_private_key(tls.private_key)
    foreign = TokenIssuer(Ed25519PrivateKey.generate()).issue("mallory@example.com", ["admin"], ttl_s=3600)
    expired = TokenIssuer(signing_key).issue("ada@example.com", ["admin"], ttl_s=-3600)
    forged = altered(TokenIssuer(signing_key).issue("al@example.com", ["analyst"], ttl_s=60), ["admin"])

    failures: list[str] = []

    def expect(label: str, method: Method, outcome, allowed_codes, mention: str = "") -> None:
        code, details, _ = outcome
        if code not in allowed_codes or (mention and mention not in details):
            failures.append(
                f"{method.path} [{label}]: {code.name} {details!r}; expected one of "
                f"{sorted(c.name for c in allowed_codes)}" + (f" mentioning {mention!r}" if mention else "")
            )

    with (
        grpc.insecure_channel(address) as plain,
        grpc.secure_channel(address, ca_only) as no_cert,
        grpc.secure_channel(address, tls.client("cli")) as cli,
    ):
        for method in methods:
            # (a) No client certificate: the TLS handshake (or the plaintext connection) fails.
            expect(
                "plaintext",
                method,
                attempt(plain, method),
                {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED},
            )
            expect(
                "TLS without a client certificate",
                method,
                attempt(no_cert, method),
                {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED},
            )
            # (b) The cli certificate alone is not a caller; only the health check admits any verified peer.
            outcome = attempt(cli, method)
            if method.path in HEALTH:
                code, details, first = outcome
                if (
                    code != grpc.StatusCode.OK
                    or health_pb2.HealthCheckResponse.FromString(first).status != health_pb2.HealthCheckResponse.SERVING
                ):
                    failures.append(
                        f"{method.path} [cli certificate, no token]: {code.name} {details!r}; expected SERVING"
                    )
            else:
                expect(
                    "cli certificate, no token",
                    method,
                    outcome,
                    {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED},
                )
            # (c) A token signed by another key, (d) an expired one, and one whose payload was altered.
            expect(
                "token of another key",
                method,
                attempt(cli, method, bearer(foreign)),
                {grpc.StatusCode.UNAUTHENTICATED},
                "signature",
            )
            expect(
                "expired token",
                method,
                attempt(cli, method, bearer(expired)),
                {grpc.StatusCode.UNAUTHENTICATED},
                "expired",
            )
            expect(
                "altered token",
                method,
                attempt(cli, method, bearer(forged)),
                {grpc.StatusCode.UNAUTHENTICATED},
                "signature",
            )
    assert not failures, f"{len(failures)} calls got through or failed wrongly:\n" + "\n".join(failures)


def test_cli_certificate_alone_is_refused_by_policy_and_recorded(platform, client):
    # The refusals above for the cli certificate came from cdp.access, which recorded them.
    with connect(platform, subject=None) as certificate_only:  # no token: the caller is the certificate's CN
        error = rpc_error(certificate_only.segment.list_audiences, timeout=TIMEOUT)
    assert isinstance(error, PermissionDenied), error
    assert "cli may not call /cdp.segment.v1.SegmentService/ListAudiences" in error.details
    decision_id = error.decision_id  # from the cdp-decision-id trailing metadata
    [record] = [d for d in decisions(client, "segment") if d.decision_id == decision_id]
    assert json.loads(record.input)["caller"] == {"subject": "cli", "kind": "service", "roles": ["service"]}
    assert json.loads(record.result)["allow"] is False


# Refusals by policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service, call, arguments, subject, role",
    [
        (
            "segment",
            "CreateAudience",
            ("create_audience", "Analyst's own", [trait_condition("plan", "eq", "pro")]),
            "al@example.com",
            "analyst",
        ),
        (
            "identity",
            "Forget",
            ("forget", "", ("user_id", "user-access-dora")),
            "mia@example.com",
            "marketer",
        ),
    ],
    ids=["analyst-creates-audience", "marketer-forgets"],
)
def test_a_role_the_policy_refuses_is_denied_with_reason_and_recorded(
    platform, client, service, call, arguments, subject, role
):
    if service == "identity":  # someone to forget, so that a wrongly allowed call would show
        source = client.create_source("access-forget", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event(
                    "identify",
                    "ac-f1",
                    "2024-07-01T08:00:00Z",
                    user_id="user-access-dora",
                    traits={"email": "dora-7f3a@example.com"},
                )
            ],
        )
        wait_until(lambda: profile_by(client, "user_id", "user-access-dora"), timeout=30, what="Dora's profile")
    name, *args = arguments
    error = rpc_error(getattr(getattr(client, service), name), *args, metadata=platform.metadata(subject, [role]))
    method = f"/{FULL_NAMES[service]}/{call}"
    assert isinstance(error, PermissionDenied), error
    decision_id = error.decision_id
    assert len(decision_id) == 64
    assert error.details.startswith(f"{subject} may not call {method}: needs one of the roles")
    assert error.details.endswith(f"(decision {decision_id})")

    [record] = [d for d in decisions(client, service) if d.decision_id == decision_id]
    assert record.entrypoint == ACCESS_DECISION and record.service == service and record.caller == subject
    result = json.loads(record.result)
    assert result["allow"] is False and result["pii_clear"] is False
    assert [f"{r} (decision {decision_id})" for r in result["reasons"]] == [error.details]
    assert error.reasons == result["reasons"]
    assert json.loads(record.input) == {
        "method": method,
        "caller": {"subject": subject, "kind": "user", "roles": [role]},
    }

    if service == "identity":  # the refused call changed nothing
        profile = profile_by(client, "user_id", "user-access-dora")
        assert json.loads(profile.traits["email"].value) == "dora-7f3a@example.com"
        assert not profile.traits["email"].erased


# Personal data in reads ------------------------------------------------------------------------------


def test_personal_traits_read_masked_unless_the_caller_may_see_them(platform, client):
    source = client.create_source("access-reads", server_side=True)
    ingest_accepted(
        client,
        source,
        [
            event(
                "identify",
                "ac-r1",
                "2024-07-02T08:00:00Z",
                user_id="user-access-pia",
                traits={"email": "pia-7f3a@example.com", "first_name": "Philippa", "plan": "team"},
            )
        ],
    )
    wait_until(lambda: profile_by(client, "user_id", "user-access-pia"), timeout=30, what="Pia's profile")
    clear = {"email": "pia-7f3a@example.com", "first_name": "Philippa"}

    for subject, role in (("al@example.com", "analyst"), ("mia@example.com", "marketer")):
        profile = profile_by(client, "user_id", "user-access-pia", metadata=platform.metadata(subject, [role]))
        for name in clear:
            trait = profile.traits[name]
            assert trait.masked and not trait.erased and json.loads(trait.value) == "***", (role, name, trait)
        assert json.loads(profile.traits["plan"].value) == "team" and not profile.traits["plan"].masked
        wire = profile.SerializeToString()
        assert not [v for v in clear.values() if v.encode() in wire], f"clear personal data reached a {role}"
        assert b"pii:v1:" not in wire, f"a {role} got the encrypted token"

    for subject, role in (("ada@example.com", "admin"), ("dpo@example.com", "privacy_officer")):
        profile = profile_by(client, "user_id", "user-access-pia", metadata=platform.metadata(subject, [role]))
        for name, value in clear.items():
            trait = profile.traits[name]
            assert not trait.masked and not trait.erased and json.loads(trait.value) == value, (role, name, trait)
        assert json.loads(profile.traits["plan"].value) == "team"
