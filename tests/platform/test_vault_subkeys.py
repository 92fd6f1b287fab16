"""Field subkeys: derived as HKDF-SHA256 always was, so every token made before still decrypts."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cdp.platform.vault import TOKEN_PREFIX, Vault, _context, _field_key, _hkdf_extract, open_key_table

MASTER = bytes(range(32))


def reference_subkey(secret: bytes, context: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, None, b"cdp/pii/v1 field key\x00" + context).derive(secret)


@pytest.mark.parametrize("field", ["email", "", "context.page.url?email", "é" * 300])
def test_field_keys_are_hkdf_sha256(field):
    secret = os.urandom(32)
    context = _context("user_id:u1", "identify", field)
    assert _field_key(_hkdf_extract(secret), context) == reference_subkey(secret, context)


def test_a_token_sealed_under_the_reference_derivation_decrypts(store_config):
    table = open_key_table(store_config)
    try:
        vault = Vault(table, MASTER)
        key = vault._keys_for(["user_id:u1"])["user_id:u1"]
        context = _context("user_id:u1", "identify", "email")
        nonce = os.urandom(12)
        sealed = AESGCM(reference_subkey(key.secret, context)).encrypt(nonce, b'"ada@example.com"', context)
        token = f"{TOKEN_PREFIX}{key.key_id}:{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"
        fresh = Vault(table, MASTER)  # no subkey cached
        assert fresh.decrypt("user_id:u1", "identify", "email", token) == '"ada@example.com"'
        made_now = fresh.encrypt("user_id:u1", "identify", "email", '"ada@example.com"')
        assert Vault(table, MASTER).decrypt("user_id:u1", "identify", "email", made_now) == '"ada@example.com"'
    finally:
        table.close()
