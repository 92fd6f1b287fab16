"""Bearer tokens: signed, checked, and refused with a clear reason."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cdp.platform.tokens import (
    MAX_TTL_ENV,
    REVOCATION_CHECK_S,
    SKEW_S,
    InvalidToken,
    Revocations,
    TokenIssuer,
    TokenVerifier,
    ensure_signing_keys,
    load_private_key,
    load_public_key,
    read_revoked,
    revoke,
    unverified_claims,
)

KEY = Ed25519PrivateKey.generate()
NOW = 1_750_000_000.0


def issuer(now: float = NOW) -> TokenIssuer:
    return TokenIssuer(KEY, clock=lambda: now)


def verifier(now: float = NOW, key=KEY) -> TokenVerifier:
    return TokenVerifier(key.public_key(), clock=lambda: now)


def test_round_trip():
    token = issuer().issue("ana", ["marketer", "analyst"], ttl_s=600)
    assert token.startswith("v1.") and token.count(".") == 2
    claims = verifier(NOW + 10).verify(token)
    assert claims.subject == "ana"
    assert claims.roles == ("analyst", "marketer")
    assert claims.expires_at == NOW + 600 and claims.issued_at == NOW
    assert claims.token_id
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["iss"] == "cdp" and payload["sub"] == "ana" and payload["exp"] == NOW + 600
    assert issuer().issue("ana", ["marketer"]) != issuer().issue("ana", ["marketer"])  # jti


def _with_payload(token: str, change: dict) -> str:
    version, body, signature = token.split(".")
    payload = {**json.loads(base64.urlsafe_b64decode(body + "==")), **change}
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{version}.{forged}.{signature}"


def test_a_tampered_payload_is_refused():
    token = issuer().issue("ana", ["analyst"])
    with pytest.raises(InvalidToken, match="bad signature"):
        verifier().verify(_with_payload(token, {"roles": ["admin"]}))
    _version, body, signature = token.split(".")
    with pytest.raises(InvalidToken, match="malformed"):
        verifier().verify(f"v2.{body}.{signature}")


def test_a_token_from_another_key_is_refused():
    token = issuer().issue("ana", ["admin"])
    with pytest.raises(InvalidToken, match="bad signature"):
        verifier(key=Ed25519PrivateKey.generate()).verify(token)


def test_an_expired_token_is_refused():
    token = issuer().issue("ana", ["admin"], ttl_s=60)
    assert verifier(NOW + 60 + 4).verify(token).subject == "ana"  # within the clock skew allowed
    with pytest.raises(InvalidToken, match=r"^expired 5 s ago"):
        verifier(NOW + 60 + SKEW_S).verify(token)  # no grace beyond the skew
    with pytest.raises(InvalidToken, match=r"^expired 3540 s ago"):
        verifier(NOW + 3600).verify(token)
    assert SKEW_S <= 5


def test_a_token_living_longer_than_the_maximum_is_refused_at_issue_and_when_checked(monkeypatch):
    with pytest.raises(ValueError, match="at most 3600 s"):
        issuer().issue("ana", ["admin"], ttl_s=3601)
    long_lived = TokenIssuer(KEY, max_ttl_s=86400, clock=lambda: NOW).issue("ana", ["admin"], ttl_s=7200)
    with pytest.raises(InvalidToken, match="lives longer than the 3600 s"):
        verifier(NOW + 1).verify(long_lived)
    monkeypatch.setenv(MAX_TTL_ENV, "600")
    with pytest.raises(ValueError, match="at most 600 s"):
        issuer().issue("ana", ["admin"], ttl_s=601)
    twenty_minutes = TokenIssuer(KEY, max_ttl_s=86400, clock=lambda: NOW).issue("ana", ["admin"], ttl_s=1200)
    with pytest.raises(InvalidToken, match="lives longer than the 600 s"):
        verifier(NOW + 1).verify(twenty_minutes)
    assert verifier(NOW + 1).verify(issuer().issue("ana", ["admin"], ttl_s=600)).subject == "ana"
    monkeypatch.setenv(MAX_TTL_ENV, "soon")
    with pytest.raises(ValueError, match=MAX_TTL_ENV):
        issuer()


def test_a_token_without_an_id_is_refused():
    token = TokenIssuer(KEY, clock=lambda: NOW).issue("ana", ["admin"])
    version, body, _ = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    del payload["jti"]
    unsigned = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(KEY.sign(f"{version}.{unsigned}".encode())).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="no id"):
        verifier().verify(f"{version}.{unsigned}.{signature}")


def test_a_revoked_token_is_refused_once_the_file_is_looked_at_again(tmp_path):
    now = [0.0]
    path = tmp_path / "revoked"
    check = TokenVerifier(KEY.public_key(), revoked=Revocations(path, clock=lambda: now[0]), clock=lambda: NOW)
    token, other = issuer().issue("ana", ["admin"]), issuer().issue("bo", ["admin"])
    assert check.verify(token).subject == "ana"
    claims = unverified_claims(token, KEY.public_key())
    revoke(path, claims.token_id, claims.expires_at, now=NOW)
    now[0] += REVOCATION_CHECK_S
    with pytest.raises(InvalidToken, match="revoked"):
        check.verify(token)
    assert check.verify(other).subject == "bo"
    # Ids of tokens expired anyway are dropped as others are revoked.
    revoke(path, "gone", NOW - 3600, now=NOW)
    revoke(path, unverified_claims(other, KEY.public_key()).token_id, NOW + 3600, now=NOW)
    assert set(read_revoked(path)) == {claims.token_id, unverified_claims(other, KEY.public_key()).token_id}
    assert path.stat().st_mode & 0o077 == 0


def test_a_token_from_the_future_is_refused():
    token = issuer(NOW + 3600).issue("ana", ["admin"])
    with pytest.raises(InvalidToken, match="not yet valid"):
        verifier().verify(token)


@pytest.mark.parametrize("token", ["", "abc", "v1.a", "v1.a.b.c", "v1.!!!.???", None])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(InvalidToken, match=r"malformed|bad signature"):
        verifier().verify(token)


def test_signing_keys_are_made_once(tmp_path):
    private, public = ensure_signing_keys(tmp_path / "keys")
    assert private.stat().st_mode & 0o777 == 0o600
    assert ensure_signing_keys(tmp_path / "keys") == (private, public)
    first = private.read_bytes()
    ensure_signing_keys(tmp_path / "keys")
    assert private.read_bytes() == first
    token = TokenIssuer(load_private_key(private)).issue("ana", ["admin"])
    assert TokenVerifier(load_public_key(public)).verify(token).roles == ("admin",)
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["token-signing.key", "token-signing.pub"]


def test_a_remembered_token_is_still_checked_for_expiry():
    now = [NOW]
    check = TokenVerifier(KEY.public_key(), clock=lambda: now[0])
    token = issuer().issue("ana", ["admin"], ttl_s=60)
    assert check.verify(token).subject == "ana"
    now[0] = NOW + 3600
    with pytest.raises(InvalidToken, match="expired"):
        check.verify(token)
