"""Bearer tokens for people and tools: Ed25519-signed claims of subject and roles.

A token is `v1.<base64url(JSON payload)>.<base64url(signature)>`; the signature covers
`v1.<payload>`, so neither the version nor a byte of the payload can change unnoticed. Services hold
only the public key: they can check a token, never make one.

A token lives at most CDP_TOKEN_MAX_TTL_S seconds (default an hour: tokens are for people and
tools, services authenticate with certificates); one asking for longer is refused when issued
and when checked. Clocks may differ by SKEW_S seconds, no more. A token revoked (`cdp token
revoke`) is listed by id in <credentials>/tokens/revoked; every verifier looks at that file at
most REVOCATION_CHECK_S after the last look, so a revocation holds everywhere within a second.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = "v1"
ISSUER = "cdp"
PRIVATE_FILE = "token-signing.key"
PUBLIC_FILE = "token-signing.pub"
REVOKED_FILE = "revoked"
MAX_TTL_ENV = "CDP_TOKEN_MAX_TTL_S"
DEFAULT_MAX_TTL_S = 3600
SKEW_S = 5  # clocks of the issuer and a service may be this far apart
REVOCATION_CHECK_S = 0.5


def max_ttl_s_from_env() -> float:
    """The longest lifetime a token may have (CDP_TOKEN_MAX_TTL_S, default an hour)."""
    text = os.environ.get(MAX_TTL_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_TTL_S
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{MAX_TTL_ENV}: not a number of seconds: {text!r}") from None
    if value <= 0:
        raise ValueError(f"{MAX_TTL_ENV}: must be positive, got {text!r}")
    return value


class InvalidToken(Exception):
    """A token that must not be accepted; reason says why (shown to the caller)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    subject: str
    roles: tuple[str, ...]
    expires_at: float  # seconds since the epoch
    issued_at: float = 0.0
    token_id: str = ""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        max_ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._key = private_key
        self._max_ttl = max_ttl_s_from_env() if max_ttl_s is None else max_ttl_s
        self._clock = clock

    def issue(self, subject: str, roles: Iterable[str], ttl_s: float = DEFAULT_MAX_TTL_S) -> str:
        if not subject:
            raise ValueError("a token needs a subject")
        if ttl_s > self._max_ttl:
            raise ValueError(f"a token lives at most {self._max_ttl:g} s ({MAX_TTL_ENV}); asked for {ttl_s:g} s")
        now = int(self._clock())
        payload = {
            "sub": subject,
            "roles": sorted(set(roles)),
            "iat": now,
            "exp": now + int(ttl_s),
            "iss": ISSUER,
            "jti": secrets.token_hex(12),
        }
        body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        signing_input = f"{VERSION}.{body}"
        return f"{signing_input}.{_b64encode(self._key.sign(signing_input.encode('ascii')))}"


class TokenVerifier:
    def __init__(
        self,
        public_key: Ed25519PublicKey,
        *,
        leeway_s: float = SKEW_S,
        max_ttl_s: float | None = None,
        revoked: Revocations | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._key = public_key
        self._leeway = leeway_s  # for clocks a little apart between the issuer and this host
        self._max_ttl = max_ttl_s_from_env() if max_ttl_s is None else max_ttl_s
        self._revoked = revoked
        self._clock = clock
        # Checking a signature costs ~60 µs and a client sends the same token with every call:
        # remember the tokens whose signature held (times are checked again on every use).
        self._verified: dict[str, Claims] = {}

    def verify(self, token: str) -> Claims:
        claims = self._verified.get(token) if isinstance(token, str) else None
        if claims is None:
            claims = self._check_signed(token)
            if len(self._verified) >= 4096:
                self._verified.clear()
            self._verified[token] = claims
        now = self._clock()
        if claims.expires_at - claims.issued_at > self._max_ttl:
            raise InvalidToken(f"lives longer than the {self._max_ttl:g} s a token may ({MAX_TTL_ENV})")
        if claims.expires_at <= now - self._leeway:
            raise InvalidToken(f"expired {int(now - claims.expires_at)} s ago")
        if claims.issued_at > now + self._leeway:
            raise InvalidToken("not yet valid: issued in the future (clock skew?)")
        if self._revoked is not None and self._revoked.revoked(claims.token_id):
            raise InvalidToken(f"revoked (token id {claims.token_id})")
        return claims

    def _check_signed(self, token: str) -> Claims:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != VERSION:
            raise InvalidToken(f"malformed token: expected {VERSION}.<payload>.<signature>")
        try:
            signature = _b64decode(parts[2])
            body = _b64decode(parts[1])
        except (binascii.Error, ValueError):
            raise InvalidToken("malformed token: not base64url") from None
        try:
            self._key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        except (InvalidSignature, UnicodeEncodeError):
            raise InvalidToken("bad signature: the token was altered or not issued by this platform") from None
        # Only a signed payload is parsed: what follows checks what the issuer wrote.
        try:
            payload = json.loads(body)
        except ValueError:
            raise InvalidToken("malformed token: payload is not JSON") from None
        return _claims(payload)


def _claims(payload: object) -> Claims:
    if not isinstance(payload, dict):
        raise InvalidToken("malformed token: payload is not an object")
    sub, roles, iat, exp, jti = (payload.get(k) for k in ("sub", "roles", "iat", "exp", "jti"))
    if payload.get("iss") != ISSUER:
        raise InvalidToken(f"malformed token: issuer is not {ISSUER!r}")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("malformed token: no subject")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("malformed token: roles must be a list of strings")
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (iat, exp)):
        raise InvalidToken("malformed token: iat and exp must be numbers")
    if not isinstance(jti, str) or not jti:
        raise InvalidToken("malformed token: no id (jti), so it could not be revoked")
    assert isinstance(iat, (int, float)) and isinstance(exp, (int, float))  # checked just above
    return Claims(sub, tuple(roles), float(exp), float(iat), jti)


def unverified_claims(token: str, public_key: Ed25519PublicKey) -> Claims:
    """A token's claims if this platform signed it, whether or not it has expired or been revoked
    (to revoke a token given whole)."""
    return TokenVerifier(public_key, max_ttl_s=float("inf"))._check_signed(token)


# Revocation -----------------------------------------------------------------------------------


class Revocations:
    """The revoked token ids in a file (`<id> <expires_at>` a line), re-read when it changes.

    verify() looks at the file's identity (inode, size, mtime) at most every REVOCATION_CHECK_S,
    so every process using it honours a revocation within that time plus a call.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self._clock = clock
        self._checked = -float("inf")
        self._seen: tuple[int, int, int] | None = None
        self._ids: frozenset[str] = frozenset()

    def revoked(self, token_id: str) -> bool:
        now = self._clock()
        if now - self._checked >= REVOCATION_CHECK_S:
            self._checked = now
            self._reload()
        return token_id in self._ids

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._ids = None, frozenset()
            return
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen != self._seen:
            self._ids = frozenset(read_revoked(self.path))
            self._seen = seen


def read_revoked(path: Path) -> dict[str, float]:
    """Revoked token ids and when each token expires anyway."""
    revoked: dict[str, float] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return revoked
    for line in text.splitlines():
        token_id, _, expires = line.strip().partition(" ")
        if token_id:
            try:
                revoked[token_id] = float(expires)
            except ValueError:
                revoked[token_id] = float("inf")
    return revoked


def revoke(path: str | Path, token_id: str, expires_at: float, *, now: float | None = None) -> None:
    """Add a token id to the revocation file (dropping ids whose tokens have expired anyway).

    The file is replaced whole under a lock, so readers never see half of it and two revocations
    at once both stay."""
    import fcntl

    path = Path(path)
    now = time.time() if now is None else now
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        revoked = {i: exp for i, exp in read_revoked(path).items() if exp + SKEW_S >= now}
        revoked[token_id] = expires_at
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.writelines(f"{i} {exp:.0f}\n" for i, exp in sorted(revoked.items()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


# Keys -----------------------------------------------------------------------------------------


def ensure_signing_keys(dir: str | Path) -> tuple[Path, Path]:
    """The signing key pair's paths, creating it on first run (private key 0600)."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = dir / PRIVATE_FILE, dir / PUBLIC_FILE
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = dir / f".{PRIVATE_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, private_path)  # never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if not public_path.exists():
        public = load_private_key(private_path).public_key()
        tmp = dir / f".{PUBLIC_FILE}.{os.getpid()}"
        tmp.write_bytes(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        os.replace(tmp, public_path)
    return private_path, public_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key
