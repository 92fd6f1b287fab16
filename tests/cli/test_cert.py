"""`cdp cert issue`: a certificate for a new internal caller, whose three files alone connect
with cdp.client to a running platform.

A certificate alone makes a `service`-kind caller named by its CN: cdp.access lets the health check
through and refuses the rest with a recorded decision (no method lists a service outside
policies/data/access.json's services); a token on top acts as the token's user.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2

from cdp.cli.main import main
from cdp.client import Connection, CredentialsError, PermissionDenied
from cdp.client.local import addresses
from support.governance import decisions
from support.platform_fixture import Client, running_platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("cert") / "data") as running:
        yield running


def issue(platform, *args: str):
    return CliRunner().invoke(main, ["cert", "issue", *args], env={"CDP_DATA_DIR": str(platform.data_dir)})


def test_an_issued_certificate_alone_is_a_working_credentials_directory(platform, tmp_path):
    issued = tmp_path / "issued"
    result = issue(platform, "billing", "--out", str(issued))
    assert result.exit_code == 0, result.output
    assert str(issued / "billing.crt") in result.output and str(issued / "billing.key") in result.output
    assert (issued / "billing.key").stat().st_mode & 0o077 == 0, "the key is private"

    fresh = tmp_path / "fresh"  # only the three files, nowhere near the platform's data directory
    fresh.mkdir()
    for name in ("ca.crt", "billing.crt", "billing.key"):
        shutil.copy(issued / name, fresh / name)

    with Connection.from_credentials(fresh, identity="billing", addresses=addresses(platform)) as cdp:
        # The certificate is verified: the health check, which admits any peer of the platform's CA.
        assert cdp.health("segment").check(timeout=10) == health_pb2.HealthCheckResponse.SERVING
        # Any other call is decided by cdp.access for the service-kind caller "billing", and recorded.
        with pytest.raises(PermissionDenied) as refused:
            cdp.segment.list_audiences(timeout=10)
        assert "billing may not call /cdp.segment.v1.SegmentService/ListAudiences" in refused.value.details
        # A token on top: the call is the token's user's (an analyst may list audiences).
        analyst = cdp.acting_as(platform.token("reporting@example.com", ("analyst",), ttl_s=60))
        assert analyst.segment.list_audiences(timeout=10) == []
    assert sorted(p.name for p in fresh.iterdir()) == ["billing.crt", "billing.key", "ca.crt"], "nothing written"

    with Client(platform) as admin:
        [record] = [d for d in decisions(admin, "segment") if d.decision_id == refused.value.decision_id]
    assert json.loads(record.input)["caller"] == {"subject": "billing", "kind": "service", "roles": ["service"]}
    assert json.loads(record.result)["allow"] is False


def test_a_credentials_directory_missing_a_file_or_the_signing_key_says_which(platform, tmp_path):
    assert issue(platform, "reports", "--out", str(tmp_path)).exit_code == 0
    with pytest.raises(CredentialsError, match="cannot mint a token") as no_key:
        Connection.from_credentials(tmp_path, "reports", subject="ana@example.com", roles=["analyst"])
    assert str(tmp_path / "tokens" / "token-signing.key") in str(no_key.value)
    (tmp_path / "reports.key").unlink()
    with pytest.raises(CredentialsError) as missing:
        Connection.from_credentials(tmp_path, "reports")
    assert str(tmp_path / "reports.key") in str(missing.value) and "reports.crt" not in str(missing.value)


def test_the_platforms_own_names_need_force(platform, tmp_path):
    refused = issue(platform, "segment", "--out", str(tmp_path / "a"))
    assert refused.exit_code != 0 and "--force" in refused.output
    assert not (tmp_path / "a").exists()
    assert issue(platform, "segment", "--out", str(tmp_path / "b"), "--force").exit_code == 0
    assert (tmp_path / "b" / "segment.crt").exists()
    assert issue(platform, "ca", "--out", str(tmp_path / "c"), "--force").exit_code != 0, "never the CA's files"
    assert issue(platform, "Bad Name", "--out", str(tmp_path / "d")).exit_code != 0


def test_without_a_ca_it_says_so(tmp_path):
    result = CliRunner().invoke(
        main, ["cert", "issue", "billing", "--out", str(tmp_path / "out")], env={"CDP_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code != 0 and "no CA here" in result.output and "ca.crt" in result.output
    assert not (tmp_path / "tls").exists(), "no CA is created"
