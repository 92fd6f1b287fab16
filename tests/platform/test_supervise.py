"""Background work that fails is started again, logged and counted; a stop still stops it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cdp.platform.metrics import TASK_RESTARTS
from cdp.platform.supervise import supervised


def restarts(task: str) -> float:
    return TASK_RESTARTS.labels("test", task)._value.get()


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_failed_run_is_started_again_counted_and_logged_with_backoff(caplog):
    runs = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("upstream answered garbage")

    before = restarts("flaky")
    with caplog.at_level(logging.ERROR, logger="cdp.platform.supervise"):
        run(supervised(flaky, "flaky", "test", first_delay_s=0.01))
    assert len(runs) == 3
    assert restarts("flaky") - before == 2
    failures = [r for r in caplog.records if "flaky failed (RuntimeError)" in r.getMessage()]
    # Both counted; the second, within a second of the first, is held back as repeats are.
    assert len(failures) == 1 and failures[0].exc_info is not None


def test_a_cancellation_from_within_is_a_failure_not_a_stop():
    runs = []

    async def leaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise asyncio.CancelledError()  # as a client library can let one out

    run(supervised(leaky, "leaky", "test", first_delay_s=0.01))
    assert len(runs) == 2


def test_cancelling_the_supervisor_stops_it_without_a_restart():
    runs = []

    async def forever() -> None:
        runs.append(1)
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(supervised(forever, "forever", "test", first_delay_s=0.01))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)

    before = restarts("forever")
    run(main())
    assert runs == [1] and restarts("forever") == before


def test_delays_double_while_it_keeps_failing(monkeypatch):
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("cdp.platform.supervise.asyncio.sleep", recorded)
    runs = []

    async def failing() -> None:
        runs.append(1)
        if len(runs) <= 5:
            raise OSError("disk full")

    run(supervised(failing, "failing", "test", first_delay_s=1.0))
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_system_exit_passes_through():
    async def fatal() -> None:
        raise SystemExit("cannot continue")

    with pytest.raises(SystemExit):
        run(supervised(fatal, "fatal", "test", first_delay_s=0.01))
