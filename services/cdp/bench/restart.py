"""`cdp bench restart`: how long identity takes to serve again, by the size of its log, with and
without a snapshot; and its memory per 100k persons.

Per size (stored events in identity's log):
1. The log is written straight into identity's store: the evidence of calls as identity itself
   would have decided them (each person a user id seen with a few devices, a share of them with an
   email sealed under its own key), folded in a graph here and appended in large batches.
2. Identity is started beside an empty collector, snapshots off: the time from the process's start
   to gRPC SERVING, and to its follower of the collector caught up (/readyz); its RSS. 3 runs.
3. Once more with snapshots on, until one is written; then 3 runs again, starting from it.
"""

from __future__ import annotations

import functools
import math
import os
import re
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdp.identity import domain, translate
from cdp.identity.application import SEALED_CONTEXT, edge_id_for
from cdp.platform.config import StoreConfig
from cdp.platform.ids import derived_id
from cdp.platform.launcher import Platform, free_ports
from cdp.platform.published import stored
from cdp.platform.security import credentials
from cdp.platform.store import open_store
from cdp.platform.vault import open_vault

DEVICES = 4  # calls a person: one per device, each a stored event
EMAIL_SHARE = 4  # one person in this many has an email (sealed: decrypted at every start)
BATCH = 5000
NO_SNAPSHOTS = {"CDP_SNAPSHOT_EVERY_EVENTS": str(10**15), "CDP_SNAPSHOT_EVERY_S": str(10**9)}
SNAPSHOT_NOW = {"CDP_SNAPSHOT_EVERY_EVENTS": "1", "CDP_SNAPSHOT_TAIL_SHARE": "0", "CDP_SNAPSHOT_CHECK_S": "0.2"}


@dataclass
class RestartSettings:
    sizes: tuple[int, ...] = (10_000, 100_000)
    repeat: int = 3
    data_dir: Path | None = None
    timeout: float = 600.0


@dataclass
class Start:
    serving_s: float
    ready_s: float
    rss_mb: float
    rebuild_s: float  # of that: the state's rebuild, as identity logs it (the rest is the process's start)


REBUILT = re.compile(r"IdentityApp: state rebuilt in ([0-9.]+)s")


def _rebuild_s(log: Path) -> float:
    found = REBUILT.findall(log.read_text(errors="replace")) if log.exists() else []
    return float(found[-1]) if found else float("nan")


@dataclass
class SizeResult:
    events: int
    persons: int
    build_s: float
    without: list[Start] = field(default_factory=list)
    with_snapshot: list[Start] = field(default_factory=list)
    snapshot_bytes: int = 0
    snapshot_s: float = 0.0  # from start to the snapshot written (the full fold, then the write)


class _Link:
    """The bench's link policy: every link admitted (one recorded decision)."""

    def decide(self, proposal: domain.Proposal) -> domain.Verdict:
        return domain.Verdict(domain.LINK, (), "bench-link")


def build_log(data_dir: Path, events: int, progress: Callable[[str], None]) -> int:
    """Append `events` calls' evidence to identity's store; returns the number of persons."""
    store = open_store(StoreConfig(data_dir=data_dir), "identity")
    vault = open_vault(StoreConfig(data_dir=data_dir))
    vault.first_kek()
    graph = domain.IdentityGraph(translate.new_person_id)
    policy = _Link()
    batch: list[Any] = []
    written = person = 0
    while written < events:
        # A chunk of persons at a time, their emails sealed in one key transaction.
        chunk: list[list[list[domain.Identifier]]] = []
        for _ in range(BATCH // DEVICES):
            user = ("user_id", f"bench-user-{person}")
            calls = []
            for device in range(min(DEVICES, events - written)):
                ids: list[domain.Identifier] = [user, ("anonymous_id", f"bench-device-{person}-{device}")]
                if device == 0 and person % EMAIL_SHARE == 0:
                    ids.append((domain.EMAIL, derived_id("bench-email", str(person)).hex))
                calls.append(ids)
            written += len(calls)
            person += 1
            chunk.append(calls)
            if written >= events:
                break
        emails = [ids[2] for calls in chunk for ids in calls if len(ids) > 2]
        tokens = vault.encrypt_many((f"{k}:{v}", SEALED_CONTEXT, k, f"person-{v[:12]}@example.com") for k, v in emails)
        sealed = dict(zip(emails, tokens, strict=True))
        first = person - len(chunk)
        for offset, calls in enumerate(chunk):
            for number, ids in enumerate(calls):
                event_id = f"bench-call-{first + offset}-{number}"
                proposed = graph.propose_call(
                    ids,
                    event_id,
                    domain.SEEN_TOGETHER,
                    "bench",
                    policy,
                    functools.partial(edge_id_for, cause=event_id),
                    lambda identifiers: False,
                    "2026-12-01T00:00:00Z",
                )
                for step in proposed:
                    graph.apply(step)
                record = translate.call_record(event_id, proposed, sealed)
                batch.append(stored(derived_id("identity-call", event_id), 1, record))
        store.append(batch)
        batch = []
        if written % 100_000 < BATCH:
            progress(f"  {written:,} events written")
    store.close()
    return person


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _serving(channel: grpc.Channel) -> bool:
    try:
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        return bool(check.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_identity(platform: Platform, env: dict[str, str], timeout: float) -> Start:
    platform.env = env
    started = time.monotonic()
    process = platform.start("identity")
    serving_s = ready_s = float("nan")
    deadline = started + timeout
    with grpc.secure_channel(platform.address("identity"), credentials(platform.data_dir).client("cli")) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"identity exited with {process.returncode}; see {platform.log_path('identity')}")
            if _serving(channel):
                serving_s = time.monotonic() - started
                break
            time.sleep(0.02)
    while time.monotonic() < deadline:
        if _ready(platform.probe_ports["identity"]):
            ready_s = time.monotonic() - started
            break
        time.sleep(0.02)
    if math.isnan(ready_s):
        raise TimeoutError(f"identity did not start within {timeout}s")
    return Start(serving_s, ready_s, _rss_mb(process.pid), _rebuild_s(platform.log_path("identity")))


def stop_identity(platform: Platform) -> None:
    process = platform.processes.pop("identity")
    process.terminate()
    process.wait(30)


def _snapshot(data_dir: Path) -> tuple[int, int]:
    """The newest snapshot's (position, size) in identity's snapshot file; (0, 0) if none."""
    path = data_dir / "identity-snapshots.sqlite"
    if not path.exists():
        return 0, 0
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT position, length(data) FROM state_snapshots ORDER BY position DESC LIMIT 1")
            ).first()
    except sa.exc.OperationalError:
        row = None
    finally:
        engine.dispose()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _line(case: str, run: int, start: Start) -> str:
    return (
        f"  {case}, run {run + 1}: serving {start.serving_s:.2f}s (state {start.rebuild_s:.2f}s), "
        f"RSS {start.rss_mb:.0f} MB"
    )


def measure_size(base: Path, events: int, settings: RestartSettings, progress: Callable[[str], None]) -> SizeResult:
    data_dir = base / f"restart-{events}"
    credentials(data_dir)
    began = time.monotonic()
    persons = build_log(data_dir, events, progress)
    result = SizeResult(events, persons, time.monotonic() - began)
    progress(f"{events:,} events ({persons:,} persons): log built in {result.build_s:.1f}s")
    ports = dict(zip(("collector", "identity", "profile", "segment", "activation"), free_ports(5), strict=True))
    probe = free_ports(1)[0]
    platform = Platform(data_dir, ports=ports, probe_ports={"identity": probe})
    platform.start("collector")
    platform.wait_healthy(["collector"])
    try:
        for run in range(settings.repeat):
            start = start_identity(platform, NO_SNAPSHOTS, settings.timeout)
            stop_identity(platform)
            result.without.append(start)
            progress(_line("without a snapshot", run, start))
        began = time.monotonic()
        start_identity(platform, SNAPSHOT_NOW, settings.timeout)
        while _snapshot(data_dir)[0] == 0:
            if time.monotonic() - began > settings.timeout:
                raise TimeoutError("identity wrote no snapshot")
            time.sleep(0.1)
        result.snapshot_s = time.monotonic() - began
        stop_identity(platform)
        result.snapshot_bytes = _snapshot(data_dir)[1]
        progress(f"  snapshot written {result.snapshot_s:.1f}s after start, {result.snapshot_bytes / 1e6:.1f} MB")
        for run in range(settings.repeat):
            start = start_identity(platform, NO_SNAPSHOTS, settings.timeout)
            stop_identity(platform)
            result.with_snapshot.append(start)
            progress(_line("from the snapshot", run, start))
    finally:
        platform.stop()
    return result


FIGURES = ("serving_s", "ready_s", "rss_mb", "rebuild_s")


def _median(starts: list[Start], name: str) -> float:
    return statistics.median(getattr(s, name) for s in starts) if starts else float("nan")


def run(settings: RestartSettings, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cdp-bench-restart-", dir=settings.data_dir) as base:
        results = [measure_size(Path(base), size, settings, progress) for size in settings.sizes]
    sizes = []
    for r in results:
        without = {k: _median(r.without, k) for k in FIGURES}
        with_snapshot = {k: _median(r.with_snapshot, k) for k in FIGURES}
        sizes.append(
            {
                "events": r.events,
                "persons": r.persons,
                "build_s": r.build_s,
                "without_snapshot": without,
                "with_snapshot": with_snapshot,
                "speedup": without["serving_s"] / with_snapshot["serving_s"],
                "snapshot_mb": r.snapshot_bytes / 1e6,
                "snapshot_written_after_s": r.snapshot_s,
                "runs": {"without": [vars(s) for s in r.without], "with": [vars(s) for s in r.with_snapshot]},
            }
        )
    per_100k = {"without_snapshot": float("nan"), "with_snapshot": float("nan")}
    if len(results) >= 2:  # the growth from the smallest size to the largest, per person
        small, large = results[0], results[-1]
        for case, attribute in (("without_snapshot", "without"), ("with_snapshot", "with_snapshot")):
            grown = _median(getattr(large, attribute), "rss_mb") - _median(getattr(small, attribute), "rss_mb")
            per_100k[case] = grown / (large.persons - small.persons) * 100_000
    return {"sizes": sizes, "rss_mb_per_100k_persons": per_100k, "repeat": settings.repeat, "cpus": os.cpu_count()}
