"""The five declared services started in this process by the platform's start(), over real gRPC
with mutual TLS and tokens: their servicers, errors as statuses, and the operations API."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import grpc
import pytest

from cdp.activation.service import declare as activation
from cdp.api.activation.v1 import activation_pb2, activation_pb2_grpc
from cdp.api.collector.v1 import collector_pb2, collector_pb2_grpc
from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.api.profile.v1 import profile_pb2, profile_pb2_grpc
from cdp.api.segment.v1 import segment_pb2, segment_pb2_grpc
from cdp.collector.service import declare as collector
from cdp.identity.service import declare as identity
from cdp.platform import config as config_module
from cdp.platform.launcher import free_ports
from cdp.platform.security import mint_token, tool_aio_channel
from cdp.platform.service import start
from cdp.profile.service import declare as profile
from cdp.segment import application as segment_application
from cdp.segment.service import declare as segment
from support.calls import event, ident, trait_condition

DECLARED = {"collector": collector, "identity": identity, "profile": profile, "segment": segment}
DECLARED["activation"] = activation
TS = "2026-11-30T10:00:00Z"


async def started(root, probe_port: int):
    ports = dict(zip(config_module.SERVICES, free_ports(5), strict=True))
    running = {}
    for name, declare in DECLARED.items():
        args = ["--data-dir", str(root), "--port", str(ports[name])]
        if name == "profile":
            args += ["--probe-port", str(probe_port)]
        for peer in config_module.SERVICES:
            if peer != name:
                args += [f"--{peer}-addr", f"127.0.0.1:{ports[peer]}"]
        service, _ = await start(config_module.load(name, args), declare)
        await service.start()
        running[name] = service
    return running, ports


async def until(check, timeout: float = 15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = await check()
            if result:
                return result
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND or loop.time() > deadline:
                raise
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_the_declared_services_serve_over_grpc(tmp_path, monkeypatch, caplog):
    async def scenario():
        (probe_port,) = free_ports(1)
        running, ports = await started(tmp_path, probe_port)
        token = mint_token(tmp_path, "ops@example.com", ["admin"], ttl_s=600)
        channels = {s: tool_aio_channel(tmp_path, f"127.0.0.1:{p}", token) for s, p in ports.items()}
        try:
            collect = collector_pb2_grpc.CollectorServiceStub(channels["collector"])
            source = (await collect.CreateSource(collector_pb2.CreateSourceRequest(name="web"))).source
            with pytest.raises(grpc.aio.AioRpcError) as taken:
                await collect.CreateSource(collector_pb2.CreateSourceRequest(name="web"))
            assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS and "name" in taken.value.details()
            reply = await collect.Ingest(
                collector_pb2.IngestRequest(
                    write_key=source.write_key,
                    events=[event("identify", "m1", TS, user_id="u1", traits={"plan": "pro"})],
                )
            )
            assert reply.accepted == 1

            ids = identity_pb2_grpc.IdentityServiceStub(channels["identity"])
            person = (
                await until(lambda: ids.GetPerson(identity_pb2.GetPersonRequest(identifier=ident("user_id", "u1"))))
            ).person
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await ids.GetPerson(identity_pb2.GetPersonRequest(identifier=ident("user_id", "nobody")))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND

            profiles = profile_pb2_grpc.ProfileServiceStub(channels["profile"])
            found = (
                await until(
                    lambda: profiles.GetProfile(profile_pb2.GetProfileRequest(identifier=ident("user_id", "u1")))
                )
            ).profile
            assert found.person_id == person.person_id

            audiences = segment_pb2_grpc.SegmentServiceStub(channels["segment"])
            created = await audiences.CreateAudience(
                segment_pb2.CreateAudienceRequest(name="Pro", conditions=[trait_condition("plan", "eq", "pro")])
            )
            audience = created.audience
            members = await until(
                lambda: audiences.ListMembers(segment_pb2.ListMembersRequest(audience_id=audience.audience_id))
            )
            assert list(members.person_ids) == [person.person_id]

            activate = activation_pb2_grpc.ActivationServiceStub(channels["activation"])
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await activate.CreateDestination(
                    activation_pb2.CreateDestinationRequest(name="x", url="ftp://x", purpose="analytics")
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and bad.value.details().startswith("url:")

            ops = ops_pb2_grpc.OpsServiceStub(channels["profile"])
            status = await ops.GetStatus(ops_pb2.GetStatusRequest())
            assert {f.upstream for f in status.followers} == {"collector", "identity"}
            assert (await ops.RetryParked(ops_pb2.RetryParkedRequest())).still_parked == 0
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{probe_port}/metrics") as response:
                    text = await response.text()
                async with http.get(f"http://127.0.0.1:{probe_port}/readyz") as response:
                    assert response.status == 200
            assert 'cdp_follower_parked{service="profile",upstream="collector"} 0' in text
            assert 'cdp_follower_lag{service="profile",upstream="identity"}' in text
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await ops.ListParked(ops_pb2.ListParkedRequest(upstream="segment"))
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

            # A bug is INTERNAL with an error id that is also in the log, never INVALID_ARGUMENT.
            def bug(*args, **kwargs):
                raise ValueError("a bug with a secret value: ada@example.com")

            monkeypatch.setattr(segment_application, "conditions_from_proto", bug)
            with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as fault:
                await audiences.CreateAudience(
                    segment_pb2.CreateAudienceRequest(name="Pro", conditions=[trait_condition("plan", "eq", "pro")])
                )
            assert fault.value.code() == grpc.StatusCode.INTERNAL
            assert "ada@example.com" not in fault.value.details()
            error_id = re.search(r"error id (\w+)", fault.value.details()).group(1)
            assert any(error_id in r.getMessage() for r in caplog.records)
        finally:
            for channel in channels.values():
                await channel.close()
            for service in running.values():
                await service.stop(grace=0)

    asyncio.run(scenario())
