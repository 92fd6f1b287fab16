"""The shipped deployment files: valid Kubernetes (strict schema), a compose file that parses, and
what both promise (the tracking API exposed, pinned images, limits, non-root, read-only roots)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from cdp.platform.config import SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
VERSION = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def pod_specs() -> dict[str, dict]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for path in MANIFESTS
        for d in documents(path)
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def test_kubernetes_validate_strict_passes():
    assert MANIFESTS
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_every_service_has_a_deployment_and_a_service():
    kinds = {(d["kind"], d["metadata"]["name"]) for path in MANIFESTS for d in documents(path)}
    for service in SERVICES:
        assert ("Deployment", service) in kinds
        assert ("Service", service) in kinds


def test_the_collector_exposes_its_tracking_api():
    docs = [d for path in MANIFESTS for d in documents(path)]
    collector = next(c for c in pod_specs()["collector"]["containers"] if c["name"] == "collector")
    assert {"name": "CDP_HTTP_PORT", "value": "8088"} in collector["env"]
    assert {"containerPort": 8088, "name": "http"} in collector["ports"]
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "collector")
    assert {"port": 8088, "targetPort": "http", "name": "http"} in service["spec"]["ports"]


def test_images_are_pinned():
    for name, spec in pod_specs().items():
        for container in all_containers(spec):
            image = container["image"]
            repository, _, tag = image.rpartition(":")
            assert repository and tag and tag != "latest", f"{name}/{container['name']}: {image}"
            if repository == "cdp":
                assert tag == VERSION, f"{name}: {image} is not the package version {VERSION}"
            else:
                assert tag[0].isdigit() and tag.count(".") >= 1, f"{name}: {image} is not an exact version"


def test_every_container_is_limited_non_root_and_read_only():
    for name, spec in pod_specs().items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in all_containers(spec):
            where = f"{name}/{container['name']}"
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), where
            assert {"cpu", "memory"} <= resources["limits"].keys(), where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where


def test_services_probe_over_http_and_mount_credentials_and_keys_read_only():
    for service in SERVICES:
        spec = pod_specs()[service]
        container = next(c for c in spec["containers"] if c["name"] == service)
        assert container["image"] == f"cdp:{VERSION}"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
        assert {"containerPort": 8081, "name": "probes"} in container["ports"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        secret = [n for n in mounts if "projected" in volumes[n]]
        assert secret == ["credentials"]
        assert mounts["credentials"]["readOnly"] is True
        # Its own head-signing key, every service's public key, and the revoked tokens as they change.
        sources = volumes["credentials"]["projected"]["sources"]
        paths = {i["path"] for v in sources for i in next(iter(v.values()))["items"]}
        assert {f"decision-keys/{service}.key", "tokens/revoked"} <= paths
        assert {f"decision-keys/{peer}.pub" for peer in SERVICES} <= paths
        assert not {f"decision-keys/{peer}.key" for peer in SERVICES if peer != service} & paths
        assert all("emptyDir" in volumes[n] for n in mounts if n not in ("credentials", "keys"))
        # The KEKs: one shared volume, outside the data directory, written only by identity (it rotates).
        assert volumes["keys"]["persistentVolumeClaim"] == {"claimName": "cdp-keys"}
        assert mounts["keys"].get("readOnly", False) is (service != "identity"), service
        assert mounts["keys"]["mountPath"] != mounts["state"]["mountPath"]


def test_compose_parses_and_exposes_the_tracking_api():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(SERVICES) <= services.keys()
    collector = services["collector"]
    assert collector["environment"]["CDP_HTTP_PORT"] == "8088"
    assert any(str(p).endswith(":8088") for p in collector["ports"])
    for name, service in services.items():
        image = service["image"]
        assert not image.endswith(":latest") and ":" in image, f"{name}: {image}"
        if name in SERVICES:
            assert image == f"cdp:{VERSION}"
            assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
            assert service["user"] and not service["user"].startswith("0")
            assert f"credentials:{service['environment']['CDP_CREDENTIALS_DIR']}:ro" in service["volumes"]
        assert {"cpus", "memory"} <= service["deploy"]["resources"]["limits"].keys(), name


@pytest.mark.parametrize("path", [DEPLOY / "Dockerfile"])
def test_the_image_runs_as_a_numeric_non_root_user(path: Path):
    users = [line.split()[1] for line in path.read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert "useradd" in path.read_text()
