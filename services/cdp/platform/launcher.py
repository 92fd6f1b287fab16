"""Start the five services as separate processes, wait until they serve, stop them.

Used by `cdp up`, the benchmarks and the end-to-end tests, so all three run the
platform the same way; they call it with cdp.client (cdp.client.local connects to a Platform).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdp.platform.config import DEFAULT_PORTS, SERVICES
from cdp.platform.files import private_tree, private_umask
from cdp.platform.security import bearer, credentials, mint_token

# The local profile these launches are: activation may send to destinations on this machine and its
# private networks (receivers, brokers on loopback). A deployment never sets it.
LOCAL_PROFILE_ENV = {"CDP_ALLOW_LOCAL_DESTINATIONS": "1"}


HANDED_OUT_S = 600.0  # a port free_ports gave any process is not given again for this long


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now (held together, so they differ), none that free_ports
    gave a process of this machine in the last HANDED_OUT_S. The services bind with SO_REUSEPORT
    (collector processes share their ports), so two platforms started at once on one port both
    bind it and the kernel splits the connections between them: a port is claimed by a file
    made exclusively in a shared directory before it is handed out."""
    claims = Path(tempfile.gettempdir()) / "cdp-ports"
    with contextlib.suppress(OSError):  # claiming is best effort: without the directory, none is
        claims.mkdir(mode=0o1777, exist_ok=True)
    now = time.time()
    ports: list[int] = []
    held = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if _claim(claims / str(port), now):
                ports.append(port)
        return ports
    finally:
        for s in held:
            s.close()


def _claim(path: Path, now: float) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        return True
    except FileExistsError:
        try:
            if now - path.stat().st_mtime < HANDED_OUT_S:
                return False
            os.utime(path)  # an old claim: taken over (two takers at once is as likely as before)
            return True
        except FileNotFoundError:
            return _claim(path, now)
        except OSError:
            return True
    except OSError:  # no claims here (the directory is another user's, say): the kernel's word alone
        return True


@dataclass
class Platform:
    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_args: list[str] = field(default_factory=list)
    http_port: int = 0  # the collector's HTTP tracking API; 0 = off
    probe_ports: dict[str, int] = field(default_factory=dict)  # /healthz, /readyz, /metrics; none: off
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    # Collector processes sharing its gRPC and HTTP ports (SO_REUSEPORT: the kernel spreads the
    # connections) and its store; the first is "collector", the others "collector-2"...
    collector_processes: int = 1
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def args(self, service: str, name: str = "") -> list[str]:
        """The command line of a service's process (name: which of the collector's, if not the first)."""
        args = [
            sys.executable,
            "-m",
            f"cdp.{service}",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.ports[service]),
        ]
        for peer in SERVICES:
            if peer != service:
                args += [f"--{peer}-addr", self.address(peer)]
        if service == "collector" and self.http_port:
            args += ["--http-port", str(self.http_port)]
        probe_port = self.probe_ports.get(name or service)
        if probe_port:
            args += ["--probe-port", str(probe_port)]
        return args + self.extra_args

    def start(self, service: str) -> subprocess.Popen[bytes]:
        """Start a service (the collector: as many processes as collector_processes); returns its first process."""
        first = self._start(service, service)
        if service == "collector":
            # Each process serves its own probes (its metrics are its own) where probe_ports names it.
            for name in self.collector_names()[1:]:
                self._start(service, name)
        return first

    def collector_names(self) -> list[str]:
        """The names of the collector's processes (in processes and log_path)."""
        return ["collector", *(f"collector-{i}" for i in range(2, self.collector_processes + 1))]

    def _start(self, service: str, name: str) -> subprocess.Popen[bytes]:
        log_dir = self.log_dir or self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {**LOCAL_PROFILE_ENV, **os.environ, **self.env}
        with open(log_dir / f"{name}.log", "ab") as log:  # the process keeps its own copy
            process = subprocess.Popen(
                self.args(service, name), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.processes[name] = process
        return process

    def start_all(self, timeout: float = 30.0) -> None:
        private_umask()  # what this process writes (the credentials, the logs) is private too
        self.data_dir.mkdir(parents=True, exist_ok=True)
        private_tree(self.data_dir)
        credentials(self.data_dir)  # the CA, certificates and signing key, made once before the services race to
        for service in SERVICES:
            self.start(service)
        self.wait_healthy(SERVICES, timeout)

    def wait_healthy(self, services: Iterable[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for service in services:
            names = self.collector_names() if service == "collector" else [service]
            watched = {name: (self.processes[name], self.log_path(name)) for name in names if name in self.processes}
            # A health probe needs no token: the `cli` certificate alone (API calls go through cdp.client).
            wait_serving(service, self.address(service), credentials(self.data_dir).client("cli"), watched, deadline)

    def token(self, subject: str = "operator", roles: tuple[str, ...] = ("admin",), ttl_s: float = 3600) -> str:
        """A bearer token minted with this install's signing key."""
        return mint_token(self.data_dir, subject, roles, ttl_s)

    def metadata(self, subject: str, roles: tuple[str, ...] | list[str]) -> tuple[tuple[str, str], ...]:
        """Call metadata acting as subject with roles."""
        return bearer(self.token(subject, tuple(roles)))

    def log_path(self, service: str) -> Path:
        return (self.log_dir or self.data_dir / "logs") / f"{service}.log"

    def kill(self, service: str) -> None:
        """kill -9: the crash the platform must survive."""
        process = self.processes.pop(service)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def __enter__(self) -> Platform:
        self.start_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# A process slow to start (a loaded machine) is seen within a second of serving: gRPC's default
# reconnect backoff grows to two minutes, past any timeout a caller would wait.
PROBE_CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
LOG_TAIL_LINES = 40  # a traceback's innermost frames are its last lines; 40 reach its caller


def wait_serving(
    service: str,
    address: str,
    channel_credentials: grpc.ChannelCredentials,
    watched: Mapping[str, tuple[subprocess.Popen[bytes], Path]],
    deadline: float,
) -> None:
    """Until the health service at address says SERVING; raises, with the last lines of its log,
    once one of the watched processes (name -> process, log) has exited or the deadline passed."""
    with grpc.secure_channel(address, channel_credentials, options=PROBE_CHANNEL_OPTIONS) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            for name, (process, log) in watched.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; {log} ends:\n{tail(log)}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                logs = "".join(f"\n{log} ends:\n{tail(log)}" for _, log in watched.values())
                raise TimeoutError(f"{service} did not start serving on {address} in time{logs}")
            time.sleep(0.1)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(unreadable: {error})"
