"""The five services start from what deploy/k8s/cdp.yaml gives their containers, and nothing more.

Each service runs as a real process with exactly the environment its container gets (the
ConfigMap it loads and its own env), where only what a cluster provides is substituted: loopback
addresses and free ports for the Services' names and the container ports, the test PostgreSQL DSN
and a fresh master key for the secrets, the OPA-speaking test server for the sidecar, and a schema
prefix of its own in the shared test database. Its volume mounts become directories: the secret
holds exactly the manifest's items, mounted read-only; emptyDirs are writable; a claimed volume is
one directory for every pod that claims it, read-only where the mount says so; and the rest of the
filesystem is read-only, as readOnlyRootFilesystem makes it. Then /healthz and /readyz on the
probe port must answer 200 and the gRPC health check SERVING.
"""

from __future__ import annotations

import concurrent.futures
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from grpc_health.v1 import health_pb2

from cdp.platform.config import SERVICES
from cdp.platform.launcher import free_ports
from conftest import drop_schemas, postgres_dsn
from support.deployment import (
    ServiceProcess,
    connection,
    issue_credentials,
    new_master_key,
    require_read_only_mounts,
    snapshot,
)
from support.opa_server import start_opa_server

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "cdp.yaml"
SIDECAR_OPA_URL = "http://127.0.0.1:8181"  # the sidecar's --addr, in the pod's network namespace


def load_manifest() -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(config maps, pod specs of the Deployments, Services), each by name."""
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    config_maps = {n: d["data"] for n, d in by_kind["ConfigMap"].items()}
    pods = {n: d["spec"]["template"]["spec"] for n, d in by_kind["Deployment"].items()}
    return config_maps, pods, by_kind["Service"]


def issued_file(issued: Path, key: str) -> Path:
    """Where the trusted machine's credentials hold a secret's key (ca.crt, collector.key,
    decision-collector.key, ...)."""
    if key.startswith("decision-"):
        return issued / "decision-keys" / key.removeprefix("decision-")
    return issued / ("tokens" if key.startswith("token-signing") else "tls") / key


class Pod:
    """One service's container, its manifest turned into a local process."""

    def __init__(self, service: str, spec: dict, root: Path):
        self.service = service
        self.spec = spec
        self.container = next(c for c in spec["containers"] if c["name"] == service)
        self.root = root
        self.ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.local_ports = dict(zip(self.ports, free_ports(len(self.ports)), strict=True))
        self.mounts: dict[str, Path] = {}  # mountPath -> local directory
        self.read_only: list[Path] = []
        self.writable: list[Path] = []
        self.secrets: list[Path] = []

    def make_volumes(self, issued: Path) -> None:
        volumes = {v["name"]: v for v in self.spec["volumes"]}
        for mount in self.container["volumeMounts"]:
            local = self.root / "volumes" / mount["name"]
            volume = volumes[mount["name"]]
            if "persistentVolumeClaim" in volume:  # one volume, shared by the pods that claim it
                local = self.root.parent / "claims" / volume["persistentVolumeClaim"]["claimName"]
                local.mkdir(parents=True, exist_ok=True)
                (self.read_only if mount.get("readOnly") else self.writable).append(local)
                self.mounts[mount["mountPath"]] = local
                continue
            local.mkdir(parents=True)
            if "projected" in volume:  # the secret's items; an optional map not made yet adds nothing
                assert mount.get("readOnly") is True, f"{self.service}: secret {mount['name']} mounted writable"
                sources = volume["projected"]["sources"]
                assert all("secret" in v or v["configMap"].get("optional") for v in sources), sources
                for item in (i for v in sources if "secret" in v for i in v["secret"]["items"]):
                    target = local / item["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(issued_file(issued, item["key"]).read_bytes())
                self.read_only.append(local)
                self.secrets.append(local)
            else:
                assert "emptyDir" in volume, f"{self.service}: volume {mount['name']} is neither projected nor emptyDir"
                self.writable.append(local)
            self.mounts[mount["mountPath"]] = local

    def environment(self, config_maps, services, grpc_ports, secrets, opa_url, prefix) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in self.container.get("envFrom", []):
            env.update({k: str(v) for k, v in config_maps[source["configMapRef"]["name"]].items()})
        for var in self.container.get("env", []):
            if "value" in var:
                env[var["name"]] = str(var["value"])
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = secrets[(ref["name"], ref["key"])]
        return {name: self.substitute(value, services, grpc_ports, opa_url) for name, value in env.items()} | {
            "CDP_SCHEMA_PREFIX": prefix
        }

    def substitute(self, value: str, services, grpc_ports, opa_url) -> str:
        if value == "0.0.0.0":
            return "127.0.0.1"
        if value == SIDECAR_OPA_URL:
            return opa_url
        for name, port in self.ports.items():
            if value == str(port):
                return str(self.local_ports[name])
        host, _, port = value.partition(":")
        if host in services and port.isdigit():  # a Service's name and port
            assert any(p["port"] == int(port) for p in services[host]["spec"]["ports"]), value
            return f"127.0.0.1:{grpc_ports[host]}"
        for path, local in self.mounts.items():
            if value == path or value.startswith(path + "/"):
                return str(local) + value[len(path) :]
        return value


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_five_services_start_as_the_manifest_configures_them(tmp_path: Path):
    require_read_only_mounts(tmp_path)
    dsn = postgres_dsn()
    config_maps, pods_spec, services = load_manifest()
    issued = issue_credentials(tmp_path / "issued")
    pods = {s: Pod(s, pods_spec[s], tmp_path / s) for s in SERVICES}
    grpc_ports = {s: pod.local_ports["grpc"] for s, pod in pods.items()}
    secrets = {("cdp-postgres", "dsn"): dsn, ("cdp-master-key", "key"): new_master_key()}
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    opa_url, stop_opa = start_opa_server()
    processes: dict[str, ServiceProcess] = {}
    try:
        for service, pod in pods.items():
            pod.make_volumes(issued)
            env = pod.environment(config_maps, services, grpc_ports, secrets, opa_url, prefix)
            paths = [v for v in env.values() if v.startswith("/") and v not in secrets.values()]  # base64 may begin "/"
            assert not [v for v in paths if not v.startswith(str(tmp_path))], env
            processes[service] = ServiceProcess(
                service, env, tmp_path / f"{service}.log", pod.read_only, pod.writable, read_only_root=True
            )
        before = {str(d): snapshot(d) for pod in pods.values() for d in pod.secrets}
        started = time.monotonic()
        for process in processes.values():
            process.start()

        def check(service: str) -> tuple[str, int, int, int, float]:
            pod, process = pods[service], processes[service]
            with connection(issued, service, f"127.0.0.1:{grpc_ports[service]}") as cdp:
                process.wait_serving(cdp, started + 60)
                status = cdp.health(service).check(timeout=5)
            probes = pod.local_ports["probes"]
            deadline = time.monotonic() + 10
            while (ready := http_status(probes, "/readyz")) != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            return service, http_status(probes, "/healthz"), ready, status, time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(len(SERVICES)) as pool:
            results = list(pool.map(check, SERVICES))
        for service, healthz, readyz, status, _ in results:
            log = processes[service].log()[-3000:]
            assert healthz == 200, f"{service} /healthz {healthz}\n{log}"
            assert readyz == 200, f"{service} /readyz {readyz}\n{log}"
            assert status == health_pb2.HealthCheckResponse.SERVING, f"{service}: {status}\n{log}"
        # The collector's tracking API listens on the port the manifest exposes.
        assert http_status(pods["collector"].local_ports["http"], "/health") == 200
        print("serving after", {s: round(t, 1) for s, *_, t in results}, "s")
    finally:
        for process in processes.values():
            process.stop()
        stop_opa()
        drop_schemas(dsn, prefix)
    assert {str(d): snapshot(d) for pod in pods.values() for d in pod.secrets} == before
    # Identity made the first key-encryption key on the shared key volume; no master key is on disk.
    claims = tmp_path / "claims" / "cdp-keys"
    assert [p.name for p in (claims / "kek").iterdir()] == ["00000001.kek"]
    assert not list(tmp_path.rglob("master.key"))
    for process in processes.values():
        assert "Read-only file system" not in process.log(), process.log()[-3000:]
        # Each signs its decision-log heads with the key its secret holds.
        assert "signing key provisioned" not in process.log(), process.log()[-3000:]
