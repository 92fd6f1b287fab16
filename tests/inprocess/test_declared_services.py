"""The five declared services started in this process by the platform's start(), over real gRPC
with mutual TLS and tokens: their servicers, errors as statuses, and the operations API."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import pytest

from cdp.activation.service import declare as activation
from cdp.client import AsyncConnection, CallFailed, Conflict, InvalidArgument, NotFound
from cdp.collector.service import declare as collector
from cdp.identity.service import declare as identity
from cdp.platform import config as config_module
from cdp.platform import logs
from cdp.platform.launcher import free_ports
from cdp.platform.security import credentials
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
        except NotFound:
            if loop.time() > deadline:
                raise
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_the_declared_services_serve_over_grpc(tmp_path, monkeypatch, caplog):
    async def scenario():
        (probe_port,) = free_ports(1)
        running, ports = await started(tmp_path, probe_port)
        credentials(tmp_path)  # as `cdp up` does: the install's certificates, the CLI's among them
        addresses = {s: f"127.0.0.1:{p}" for s, p in ports.items()}
        cdp = AsyncConnection.from_credentials(
            tmp_path, "cli", subject="ops@example.com", roles=["admin"], ttl_s=600, addresses=addresses, timeout=10
        )
        try:
            collect = cdp.collector
            source = await collect.create_source("web")
            with pytest.raises(Conflict) as taken:
                await collect.create_source("web")
            assert taken.value.code == "ALREADY_EXISTS" and "name" in taken.value.details
            reply = await collect.ingest(
                source.write_key, [event("identify", "m1", TS, user_id="u1", traits={"plan": "pro"})]
            )
            assert reply.accepted == 1

            ids = cdp.identity
            person = await until(lambda: ids.get_person(identifier=ident("user_id", "u1")))
            with pytest.raises(NotFound):
                await ids.get_person(identifier=ident("user_id", "nobody"))

            found = await until(lambda: cdp.profile.get_profile(identifier=("user_id", "u1")))
            assert found.person_id == person.person_id

            audiences = cdp.segment
            audience = await audiences.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], purpose="marketing"
            )
            members = await until(lambda: audiences.list_members(audience.audience_id))
            assert members == [person.person_id]

            with pytest.raises(InvalidArgument) as bad:
                await cdp.activation.create_destination("x", "ftp://x", "analytics", [])
            assert bad.value.field == "url", bad.value.details

            ops = cdp.ops("profile")
            status = await ops.get_status()
            assert {f.upstream for f in status.followers} == {"collector", "identity"}
            assert (await ops.retry_parked()).still_parked == 0
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{probe_port}/metrics") as response:
                    text = await response.text()
                async with http.get(f"http://127.0.0.1:{probe_port}/readyz") as response:
                    assert response.status == 200
            assert 'cdp_follower_parked{service="profile",upstream="collector"} 0' in text
            assert 'cdp_follower_lag{service="profile",upstream="identity"}' in text
            with pytest.raises(NotFound):
                await ops.list_parked(upstream="segment")

            # A bug is INTERNAL with an error id that is also in the log, never INVALID_ARGUMENT.
            def bug(*args, **kwargs):
                raise ValueError("a bug with a secret value: ada@example.com")

            monkeypatch.setattr(segment_application, "conditions_from_proto", bug)
            caplog.handler.addFilter(logs.RequestContext())
            with caplog.at_level(logging.ERROR), pytest.raises(CallFailed) as fault:
                await audiences.create_audience(
                    "Pro",
                    [trait_condition("plan", "eq", "pro")],
                    purpose="marketing",
                    metadata=[(logs.REQUEST_ID_METADATA, "req-bug-1")],
                )
            assert fault.value.code == "INTERNAL"
            assert "ada@example.com" not in fault.value.details
            error_id = re.search(r"error id (\w+)", fault.value.details).group(1)
            logged = [r for r in caplog.records if error_id in r.getMessage()]
            assert logged
            # The line names the request the caller gave and the caller the access decision admitted.
            assert logged[0].request_id == "req-bug-1" and logged[0].caller == "ops@example.com"
            assert logged[0].decision_id
            line = logs.JsonFormatter("segment").format(logged[0])
            assert "ada@example.com" not in line and '"request_id":"req-bug-1"' in line
        finally:
            await cdp.close()
            for service in running.values():
                await service.stop(grace=0)

    asyncio.run(scenario())
