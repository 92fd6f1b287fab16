"""Signed heads of the decision logs, and the key each service signs them with.

A hash chain shows a record edited or removed, unless whoever edits it also recomputes the
hashes after it (and rewrites the witness). So each service signs its chain head (service,
sequence, hash, time) with an Ed25519 key of its own, kept in the credentials directory, never
in the store or the state directory. The signed head goes to the witness file and to another
service, which checks the signature and records it in its own store (HeadWitnessed): someone
who can write one service's store and data directory but has not its key can neither sign a
rewritten chain nor reach into the peer's store to remove what it witnessed.

    <credentials>/decision-keys/<service>.key   the private key (0600), read by that service only
    <credentials>/decision-keys/<service>.pub   its public key, read by peers and `cdp audit verify`
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cdp.api.ops.v1 import ops_pb2, ops_pb2_grpc
from cdp.platform.clock import now_iso
from cdp.platform.config import SERVICES

log = logging.getLogger(__name__)

KEYS_DIR = "decision-keys"
PUBLISH_INTERVAL_S = 0.2  # at most one signed head sent to the peer this often
RETRY_MAX_S = 5.0


def key_paths(credentials_dir: str | Path, service: str) -> tuple[Path, Path]:
    keys = Path(credentials_dir) / KEYS_DIR
    return keys / f"{service}.key", keys / f"{service}.pub"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def ensure_head_key(credentials_dir: str | Path, service: str) -> Ed25519PrivateKey | None:
    """The service's head-signing key, created on first start (0600) with its public key beside it.
    None when there is none and none can be made (a read-only credentials mount without one):
    the service then runs with unsigned heads, which `cdp audit verify` reports."""
    private_path, public_path = key_paths(credentials_dir, service)
    if not private_path.exists() and not _writable(private_path.parent):
        log.error(
            "%s: no decision-log signing key provisioned at %s; its chain heads go unsigned", service, private_path
        )
        return None
    try:
        if not private_path.exists():
            private_path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = private_path.with_name(f".{private_path.name}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            try:
                os.link(tmp, private_path)  # never replaces a key another process made first
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = serialization.load_pem_private_key(private_path.read_bytes(), None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{private_path}: not an Ed25519 private key")
        if not public_path.exists():
            tmp = public_path.with_name(f".{public_path.name}.{os.getpid()}")
            tmp.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            os.replace(tmp, public_path)
        return key
    except OSError as error:
        log.error("%s: no decision-log signing key (%s); its chain heads go unsigned", service, error)
        return None


def _writable(directory: Path) -> bool:
    """Whether a file can be made in directory, made as needed (its nearest existing ancestor's say)."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return os.access(directory, os.W_OK)


def load_head_key(credentials_dir: str | Path, service: str) -> Ed25519PublicKey | None:
    """A service's public head-signing key, or None when the credentials directory has none."""
    try:
        key = serialization.load_pem_public_key(key_paths(credentials_dir, service)[1].read_bytes())
    except (OSError, ValueError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


@dataclass(frozen=True)
class SignedHead:
    service: str
    sequence: int
    hash: str
    signed_at: str
    key_id: str = ""
    signature: bytes = b""

    def content(self) -> bytes:
        return f"cdp-decision-head\n{self.service}\n{self.sequence}\n{self.hash}\n{self.signed_at}".encode()

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "sequence": self.sequence,
            "hash": self.hash,
            "signed_at": self.signed_at,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], service: str = "") -> SignedHead:
        """From as_dict's fields (a witness file); a signature that is not hex reads as none."""
        try:
            signature = bytes.fromhex(str(data.get("signature", "")))
        except ValueError:
            signature = b""
        return cls(
            service=str(data.get("service", service)),
            sequence=int(data["sequence"]),
            hash=str(data["hash"]),
            signed_at=str(data.get("signed_at", "")),
            key_id=str(data.get("key_id", "")),
            signature=signature,
        )

    def as_proto(self) -> ops_pb2.SignedHead:
        return ops_pb2.SignedHead(
            service=self.service,
            sequence=self.sequence,
            hash=self.hash,
            signed_at=self.signed_at,
            key_id=self.key_id,
            signature=self.signature,
        )

    @classmethod
    def from_proto(cls, head: ops_pb2.SignedHead) -> SignedHead:
        return cls(head.service, head.sequence, head.hash, head.signed_at, head.key_id, head.signature)


def sign_head(key: Ed25519PrivateKey, service: str, sequence: int, hash: str) -> SignedHead:
    unsigned = SignedHead(service, sequence, hash, now_iso(), key_id(key.public_key()))
    return SignedHead(**{**unsigned.__dict__, "signature": key.sign(unsigned.content())})


def verify_head(public: Ed25519PublicKey | None, head: SignedHead) -> bool:
    """Whether head was signed with this key (False without a key or a signature)."""
    if public is None or not head.signature:
        return False
    try:
        public.verify(head.signature, head.content())
    except InvalidSignature:
        return False
    return True


def witness_peer(service: str) -> str:
    """The service that records this one's signed heads: the next one in a ring of all five."""
    return SERVICES[(SERVICES.index(service) + 1) % len(SERVICES)]


class HeadPublisher:
    """Sends the newest signed head to the peer, at most every PUBLISH_INTERVAL_S, retrying with
    backoff while the peer is away; never in a commit's way (offer() only notes the head)."""

    def __init__(self, service: str, peer: str, channel: grpc.aio.Channel):
        self.service, self.peer = service, peer
        self._channel = channel
        self._latest: SignedHead | None = None
        self.sent = 0  # the newest sequence the peer acknowledged
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def offer(self, head: SignedHead) -> None:
        self._latest = head
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        if self._latest is not None:
            self._event.set()
        stub = ops_pb2_grpc.OpsServiceStub(self._channel)
        delay, failing = PUBLISH_INTERVAL_S, False
        while True:
            await self._event.wait()
            self._event.clear()
            head = self._latest
            if head is None or head.sequence <= self.sent:
                continue
            try:
                await stub.WitnessHead(ops_pb2.WitnessHeadRequest(head=head.as_proto()), timeout=5)
            except grpc.RpcError as error:
                if not failing:
                    log.warning(
                        "%s: signed head #%d not witnessed by %s yet (retrying): %s",
                        self.service,
                        head.sequence,
                        self.peer,
                        error.code() if isinstance(error, grpc.aio.AioRpcError) else error,
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                self._event.set()
                continue
            if failing:
                log.info("%s: %s witnesses its signed heads again, at #%d", self.service, self.peer, head.sequence)
            self.sent, delay, failing = head.sequence, PUBLISH_INTERVAL_S, False
            await asyncio.sleep(PUBLISH_INTERVAL_S)
