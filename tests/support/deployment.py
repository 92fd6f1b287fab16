"""Services started the way a deployment runs them: only their own credentials, on a truly
read-only mount, and settings from CDP_* variables alone.

The tests run as root, for whom permission bits stop no write. A read-only bind mount does: each
service runs in a private mount namespace (`unshare --mount`) where its credentials directory is
mounted read-only over itself, as a Kubernetes secret volume is (writes fail with EROFS). The mount
exists only inside that namespace; the test itself still sees an ordinary directory. With
read_only_root the whole root filesystem is read-only too (Kubernetes' readOnlyRootFilesystem),
except the directories given as writable (a pod's emptyDir volumes).
"""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from cdp.client import CdpError, Connection
from cdp.platform.security import credentials
from cdp.platform.tokens import PUBLIC_FILE


def read_only_prefix(
    directories: Sequence[Path], writable: Sequence[Path] = (), *, read_only_root: bool = False
) -> list[str]:
    """A command prefix that runs the command with each directory mounted read-only over itself
    (and, with read_only_root, everything read-only but the writable directories)."""
    q = shlex.quote
    mounts = [f"mount --bind {q(str(d))} {q(str(d))}" for d in writable]
    mounts += [f"mount --bind -o ro {q(str(d))} {q(str(d))}" for d in directories]
    if read_only_root:
        mounts.append("mount -o remount,bind,ro /")
    script = "set -e; " + "; ".join(mounts) + '; exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def require_read_only_mounts(scratch: Path) -> None:
    """Skip, saying why, where a private mount namespace cannot be made; fail if the mount would
    not stop a write (then the test would prove nothing)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) for a read-only bind mount")
    probe = scratch / "read-only-probe"
    probe.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [*read_only_prefix([probe]), "sh", "-c", f"touch {shlex.quote(str(probe / 'x'))}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if result.returncode != 0 and "Read-only file system" in result.stderr:
        return
    if result.returncode != 0:
        pytest.skip(f"cannot make a private read-only mount here: {result.stderr.strip()}")
    raise AssertionError(f"a write under the read-only mount succeeded: {probe}")


def issue_credentials(root: Path) -> Path:
    """The install's full credentials (CA key, every certificate, the signing key pair), as the
    trusted machine of deploy/README.md makes them; the tests' clients use these."""
    credentials(root)
    return root


def service_credentials(full: Path, service: str, into: Path) -> Path:
    """What a deployment hands one service: ca.crt, its own certificate and key, the token public key."""
    (into / "tls").mkdir(parents=True, exist_ok=True)
    (into / "tokens").mkdir(parents=True, exist_ok=True)
    for name in ("ca.crt", f"{service}.crt", f"{service}.key"):
        shutil.copy2(full / "tls" / name, into / "tls" / name)
    shutil.copy2(full / "tokens" / PUBLIC_FILE, into / "tokens" / PUBLIC_FILE)
    return into


def new_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under a directory with its size and modification time."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@dataclass
class ServiceProcess:
    """One service as a process, with exactly the environment given (plus PATH and the like)."""

    service: str
    env: dict[str, str]
    log_path: Path
    read_only: Sequence[Path] = ()
    writable: Sequence[Path] = ()
    read_only_root: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> ServiceProcess:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CDP_")}
        command = [sys.executable, "-m", f"cdp.{self.service}"]
        if self.read_only or self.read_only_root:
            prefix = read_only_prefix(self.read_only, self.writable, read_only_root=self.read_only_root)
            command = [*prefix, *command]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**base, **self.env}, start_new_session=True
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_serving(self, connection: Connection, deadline: float) -> None:
        health = connection.health(self.service)
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if health.check(timeout=1) == health_pb2.HealthCheckResponse.SERVING:
                    return
            except CdpError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.service} not serving in time:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def connection(full_credentials: Path, service: str, address: str, token: str | None = None, **options) -> Connection:
    """cdp.client clients of one service at address, with the full credentials' `cli` certificate."""
    return Connection.from_credentials(full_credentials, "cli", token, addresses={service: address}, **options)
