"""`cdp bench restart`: how long each service takes to serve again, by the size of its log, with
and without a snapshot; and its memory per 100k persons.

Per service and size (stored events in the service's own log):
1. The log is written straight into the service's store (cdp.bench.restart_logs).
2. The service is started (identity beside an empty collector, the others alone: their followers
   wait for their upstreams), snapshots off: the time from the process's start to gRPC SERVING,
   its RSS then, and its RSS once its state is warm (what it restored from a snapshot read after
   serving: identity's graph pages and blind indexes, the others' held pages). `repeat` runs.
3. Once more with snapshots on, until its state's (and its followers' parked events') are
   written; then `repeat` runs again, starting from them.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdp.bench.report import cpu_seconds, memory_mb
from cdp.bench.restart_logs import BUILDERS
from cdp.platform.launcher import Platform, free_ports
from cdp.platform.security import credentials

SERVICES = tuple(BUILDERS)
SNAPSHOTTED = {"identity", "profile", "segment", "activation"}  # the services whose state takes snapshots
APPS = {"identity": "IdentityApp", "profile": "ProfileApp", "segment": "SegmentApp", "activation": "ActivationApp"}
FOLLOWS = {"identity": 1, "profile": 2, "segment": 2, "activation": 2}  # upstreams: a snapshot of parked events each
NO_SNAPSHOTS = {"CDP_SNAPSHOT_EVERY_EVENTS": str(10**15), "CDP_SNAPSHOT_EVERY_S": str(10**9)}
SNAPSHOT_NOW = {"CDP_SNAPSHOT_EVERY_EVENTS": "1", "CDP_SNAPSHOT_TAIL_SHARE": "0", "CDP_SNAPSHOT_CHECK_S": "0.2"}
QUICK_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 50),
]


@dataclass
class RestartSettings:
    sizes: tuple[int, ...] = (10_000, 100_000)
    repeat: int = 3
    data_dir: Path | None = None
    timeout: float = 600.0
    services: tuple[str, ...] = SERVICES


@dataclass
class Start:
    serving_s: float
    cpu_s: float  # CPU time used by SERVING (on a loaded machine, the wall time is mostly waiting)
    rss_mb: float  # at SERVING
    warm_rss_mb: float  # once the state is warm (the same as at SERVING for a state read whole)
    rebuild_s: float  # of the start: the state's rebuild, as the service logs it


def _rebuilt(service: str) -> re.Pattern[str]:
    return re.compile(APPS[service] + r": state rebuilt in ([0-9.]+)s")


def _rebuild_s(service: str, log: Path) -> float:
    found = _rebuilt(service).findall(log.read_text(errors="replace")) if log.exists() else []
    return float(found[-1]) if found else float("nan")


@dataclass
class SizeResult:
    service: str
    events: int
    persons: int
    build_s: float
    without: list[Start] = field(default_factory=list)
    with_snapshot: list[Start] = field(default_factory=list)
    snapshot_bytes: int = 0
    snapshot_s: float = 0.0  # from start to the snapshot written (the full fold, then the write)


def _serving(channel: grpc.Channel) -> bool:
    try:
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        return bool(check.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def _warm(service: str, log: Path, after: int) -> bool:
    warm = re.compile(APPS[service] + r": state warm")
    return bool(warm.search(log.read_text(errors="replace")[after:])) if log.exists() else False


def start_service(platform: Platform, service: str, env: dict[str, str], timeout: float) -> Start:
    """Start the service; its figures once it serves and once its state is warm."""
    platform.env = env
    log = platform.log_path(service)
    logged = len(log.read_text(errors="replace")) if log.exists() else 0
    started = time.monotonic()
    process = platform.start(service)
    serving_s = float("nan")
    deadline = started + timeout
    # Retried every few tens of milliseconds: left to grpc, a channel refused for as long as a large
    # state is rebuilt waits seconds between tries, and SERVING would be seen seconds late.
    with grpc.secure_channel(
        platform.address(service), credentials(platform.data_dir).client("cli"), options=QUICK_RECONNECT
    ) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{service} exited with {process.returncode}; see {log}")
            if _serving(channel):
                serving_s = time.monotonic() - started
                break
            time.sleep(0.02)
    if math.isnan(serving_s):
        raise TimeoutError(f"{service} did not serve within {timeout}s")
    cpu, rss = cpu_seconds(process.pid), memory_mb(process.pid)
    warm_rss = rss
    if service in APPS:
        while not _warm(service, log, logged):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service}'s state was not warm within {timeout}s")
            time.sleep(0.1)
        warm_rss = memory_mb(process.pid)
    return Start(serving_s, cpu, rss, warm_rss, _rebuild_s(service, log))


def stop_service(platform: Platform, service: str) -> None:
    process = platform.processes.pop(service)
    process.terminate()
    process.wait(60)


def _snapshots(data_dir: Path, service: str) -> dict[str, tuple[int, int]]:
    """Each state's newest snapshot, (position, size), in the service's snapshot file."""
    path = data_dir / f"{service}-snapshots.sqlite"
    if not path.exists():
        return {}
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT name, position, length(data) FROM state_snapshots ORDER BY position")
            ).all()
    except sa.exc.OperationalError:
        rows = []
    finally:
        engine.dispose()
    return {name: (int(position), int(size)) for name, position, size in rows}


def _snapshot(data_dir: Path, service: str) -> tuple[int, int]:
    """The newest snapshot of the service's state once its followers' parked events have theirs
    (written right after it); (0, 0) until then."""
    found = _snapshots(data_dir, service)
    parked = [name for name in found if name.startswith("Parked-")]
    return found.get(APPS[service], (0, 0)) if len(parked) >= FOLLOWS[service] else (0, 0)


def _line(case: str, run: int, start: Start) -> str:
    return (
        f"  {case}, run {run + 1}: serving {start.serving_s:.2f}s "
        f"(CPU {start.cpu_s:.2f}s, state {start.rebuild_s:.2f}s), "
        f"RSS {start.rss_mb:.0f} MB, warm {start.warm_rss_mb:.0f} MB"
    )


def measure_size(
    base: Path, service: str, events: int, settings: RestartSettings, progress: Callable[[str], None]
) -> SizeResult:
    data_dir = base / f"restart-{service}-{events}"
    credentials(data_dir)
    began = time.monotonic()
    persons = BUILDERS[service](data_dir, events, progress)
    result = SizeResult(service, events, persons, time.monotonic() - began)
    progress(f"{service}, {events:,} events ({persons:,} persons): log built in {result.build_s:.1f}s")
    ports = dict(zip(("collector", "identity", "profile", "segment", "activation"), free_ports(5), strict=True))
    platform = Platform(data_dir, ports=ports)
    if service == "identity":  # what it follows, so that it starts as it does beside the others
        platform.start("collector")
        platform.wait_healthy(["collector"])
    try:
        for run in range(settings.repeat):
            start = start_service(platform, service, NO_SNAPSHOTS, settings.timeout)
            stop_service(platform, service)
            result.without.append(start)
            progress(_line("without a snapshot", run, start))
        if service not in SNAPSHOTTED:
            return result
        began = time.monotonic()
        start_service(platform, service, SNAPSHOT_NOW, settings.timeout)
        while _snapshot(data_dir, service)[0] == 0:
            if time.monotonic() - began > settings.timeout:
                raise TimeoutError(f"{service} wrote no snapshot")
            time.sleep(0.1)
        result.snapshot_s = time.monotonic() - began
        stop_service(platform, service)
        result.snapshot_bytes = _snapshot(data_dir, service)[1]
        progress(f"  snapshot written {result.snapshot_s:.1f}s after start, {result.snapshot_bytes / 1e6:.1f} MB")
        for run in range(settings.repeat):
            start = start_service(platform, service, NO_SNAPSHOTS, settings.timeout)
            stop_service(platform, service)
            result.with_snapshot.append(start)
            progress(_line("from the snapshot", run, start))
    finally:
        platform.stop()
    return result


FIGURES = ("serving_s", "cpu_s", "rss_mb", "warm_rss_mb", "rebuild_s")


def _median(starts: list[Start], name: str) -> float:
    return statistics.median(getattr(s, name) for s in starts) if starts else float("nan")


def _per_100k(small: SizeResult, large: SizeResult, attribute: str) -> float:
    """The growth of the warm RSS from the smallest size to the largest, per 100k persons."""
    grown = _median(getattr(large, attribute), "warm_rss_mb") - _median(getattr(small, attribute), "warm_rss_mb")
    persons = large.persons - small.persons
    return grown / persons * 100_000 if persons > 0 else float("nan")


def run(settings: RestartSettings, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cdp-bench-restart-", dir=settings.data_dir) as base:
        results = [
            measure_size(Path(base), service, size, settings, progress)
            for service in settings.services
            for size in settings.sizes
        ]
    out: dict[str, Any] = {"services": {}, "repeat": settings.repeat, "cpus": os.cpu_count()}
    for service in settings.services:
        mine = [r for r in results if r.service == service]
        sizes = []
        for r in mine:
            without = {k: _median(r.without, k) for k in FIGURES}
            with_snapshot = {k: _median(r.with_snapshot, k) for k in FIGURES}
            sizes.append(
                {
                    "events": r.events,
                    "persons": r.persons,
                    "build_s": r.build_s,
                    "without_snapshot": without,
                    "with_snapshot": with_snapshot if r.with_snapshot else None,
                    "snapshot_mb": r.snapshot_bytes / 1e6,
                    "snapshot_written_after_s": r.snapshot_s,
                    "runs": {"without": [vars(s) for s in r.without], "with": [vars(s) for s in r.with_snapshot]},
                }
            )
        per_100k = {"without_snapshot": float("nan"), "with_snapshot": float("nan")}
        if len(mine) >= 2:
            per_100k["without_snapshot"] = _per_100k(mine[0], mine[-1], "without")
            if service in SNAPSHOTTED:
                per_100k["with_snapshot"] = _per_100k(mine[0], mine[-1], "with_snapshot")
        out["services"][service] = {
            "snapshots": service in SNAPSHOTTED,
            "sizes": sizes,
            "rss_mb_per_100k_persons": per_100k,
        }
    return out
