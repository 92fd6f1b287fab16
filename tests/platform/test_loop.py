"""A service process runs on uvloop where it is installed; CDP_EVENT_LOOP=asyncio keeps asyncio's."""

from __future__ import annotations

import asyncio

import pytest

from cdp.platform import loop


def running_loop_module(monkeypatch, wanted: str | None) -> str:
    if wanted is None:
        monkeypatch.delenv("CDP_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("CDP_EVENT_LOOP", wanted)
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    loop.run(main())
    return seen[0]


def test_a_service_runs_on_uvloop_by_default(monkeypatch):
    pytest.importorskip("uvloop")
    assert running_loop_module(monkeypatch, None).startswith("uvloop")
    assert running_loop_module(monkeypatch, "uvloop").startswith("uvloop")


def test_asyncio_when_asked(monkeypatch):
    assert running_loop_module(monkeypatch, "asyncio").startswith("asyncio")
    assert running_loop_module(monkeypatch, " AsyncIO ").startswith("asyncio")


def test_an_unknown_loop_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CDP_EVENT_LOOP", "trio")
    with pytest.raises(SystemExit, match="CDP_EVENT_LOOP: 'trio' is not one of uvloop, asyncio"):
        loop.chosen()
