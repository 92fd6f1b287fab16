"""Bearer tokens: signed, checked, and refused with a clear reason."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cdp.platform.tokens import (
    InvalidToken,
    TokenIssuer,
    TokenVerifier,
    ensure_signing_keys,
    load_private_key,
    load_public_key,
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
    assert verifier(NOW + 60 + 29).verify(token).subject == "ana"  # within the clock leeway
    with pytest.raises(InvalidToken, match=r"^expired 3540 s ago"):
        verifier(NOW + 3600).verify(token)


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
