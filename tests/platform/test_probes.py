"""The probe server over real HTTP: /healthz while the process runs, /readyz from its checks."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import pytest

from cdp.platform.config import StoreConfig
from cdp.platform.probes import Probes, serving
from cdp.platform.service import ready
from cdp.platform.store import open_store


async def get(port: int, path: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", timeout=aiohttp.ClientTimeout(total=5)) as response,
    ):
        return response.status, await response.json()


def run(coroutine):
    return asyncio.run(coroutine)


def test_healthz_and_readyz_when_every_check_passes(tmp_path):
    store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "probed")

    async def scenario():
        probes = Probes("127.0.0.1", 0, ready(store, []))  # the kernel's checks: the store answers
        port = await probes.start()
        try:
            return await get(port, "/healthz"), await get(port, "/readyz")
        finally:
            await probes.stop()

    try:
        (health_status, health), (ready_status, readiness) = run(scenario())
    finally:
        store.close()
    assert (health_status, health) == (200, {"status": "alive"})
    assert ready_status == 200
    assert readiness == {"ready": True, "failing": [], "checks": {"store": {"ok": True, "detail": "head 0"}}}


def test_readyz_names_the_failing_checks():
    class NotYet:
        serving = False

    async def lagging():
        return False, "42 notifications behind (bound 10)"

    def broken():
        raise ConnectionError("connection refused\nmore lines")

    async def scenario():
        probes = Probes("127.0.0.1", 0, {"lag": lagging, "grpc serving": serving(NotYet())})
        probes.add("broken", broken)
        probes.add("fine", lambda: (True, "ok"))
        port = await probes.start()
        try:
            return await get(port, "/readyz"), await get(port, "/healthz")
        finally:
            await probes.stop()

    (status, body), (health_status, _) = run(scenario())
    assert status == 503
    assert health_status == 200  # alive, though not ready
    assert body["ready"] is False
    assert sorted(body["failing"]) == ["broken", "grpc serving", "lag"]
    assert body["checks"]["lag"] == {"ok": False, "detail": "42 notifications behind (bound 10)"}
    assert body["checks"]["broken"] == {"ok": False, "detail": "ConnectionError: connection refused"}
    assert body["checks"]["fine"] == {"ok": True, "detail": "ok"}


def test_a_hung_check_fails_in_time_and_is_not_started_twice():
    release = threading.Event()
    started = []

    def hung():
        started.append(time.monotonic())
        release.wait(10)
        return True, "finally"

    async def scenario():
        probes = Probes("127.0.0.1", 0, {"database": hung}, timeout=0.3)
        port = await probes.start()
        try:
            t0 = time.monotonic()
            first = await get(port, "/readyz")
            second = await get(port, "/readyz")
            elapsed = time.monotonic() - t0
            runs = len(started)
            release.set()
            await asyncio.sleep(0.1)
            third = await get(port, "/readyz")
            return first, second, third, elapsed, runs
        finally:
            release.set()
            await probes.stop()

    first, second, third, elapsed, runs = run(scenario())
    assert first[0] == second[0] == 503
    assert first[1]["checks"]["database"]["detail"] == "no answer within 0.3s"
    assert elapsed < 2  # the event loop was never held
    assert runs == 1  # the second request awaited the same run
    assert third == (200, {"ready": True, "failing": [], "checks": {"database": {"ok": True, "detail": "finally"}}})


def test_a_port_in_use_fails_the_start():
    async def scenario():
        first = Probes("127.0.0.1", 0)
        port = await first.start()
        try:
            with pytest.raises(OSError):
                await Probes("127.0.0.1", port).start()
        finally:
            await first.stop()

    run(scenario())
