"""Connection.from_credentials: which files it reads, what it never writes, tokens, addresses."""

from __future__ import annotations

import pytest

from cdp.client import Connection, CredentialsError
from cdp.platform.security import credentials
from cdp.platform.tls import TlsFiles, issue_certificate


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_a_data_directory_mints_tokens_for_a_subject(tmp_path, monkeypatch):
    install = credentials(tmp_path)  # a local install: CA, certificates, signing key
    monkeypatch.setenv("CDP_PROFILE_ADDR", "profile.internal:7000")
    before = files_under(tmp_path)
    with Connection.from_credentials(tmp_path, subject="ana@example.com", roles=["analyst"]) as cdp:
        [(key, value)] = cdp.metadata
        claims = install.verifier().verify(value.removeprefix("Bearer "))
        assert (key, claims.subject, claims.roles) == ("authorization", "ana@example.com", ("analyst",))
        assert cdp.address("profile") == "profile.internal:7000" and cdp.address("segment") == "127.0.0.1:50054"
        other = cdp.acting_as("t-1")
        assert other.metadata == (("authorization", "Bearer t-1"),)
        assert other.channel("segment") is cdp.channel("segment"), "acting_as shares the channels"
        assert cdp.acting_as().metadata == (), "no token: the certificate's service"
    assert files_under(tmp_path) == before, "nothing written"


def test_a_flat_directory_of_three_files_connects_and_cannot_mint(tmp_path):
    install = credentials(tmp_path / "install")
    issue_certificate(TlsFiles(install.tls.dir), "billing", tmp_path / "billing")
    with Connection.from_credentials(tmp_path / "billing", "billing", token="t-2") as cdp:
        assert cdp.metadata == (("authorization", "Bearer t-2"),)
        with pytest.raises(CredentialsError, match=r"token-signing\.key"):
            cdp.acting_as(subject="ana@example.com", roles=["analyst"])
    assert files_under(tmp_path / "billing") == ["billing.crt", "billing.key", "ca.crt"]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CredentialsError) as missing:
        Connection.from_credentials(tmp_path, "billing")
    for name in ("ca.crt", "billing.crt", "billing.key"):
        assert name in str(missing.value)
    assert not list(tmp_path.iterdir()), "no CA, key or certificate is created"
