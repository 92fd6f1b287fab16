"""Mutual TLS between services: a local CA that `cdp` creates, and one certificate per service.

Keys are EC P-256 (what grpc's BoringSSL accepts everywhere). Each certificate names its service in
the subject CN, which the server reads back from the verified peer to know who is calling, and is
valid for localhost and 127.0.0.1 as both server and client. Files are made once, under a lock, so
services starting together never mint two CAs; key files are 0600.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cdp.platform.grpc_types import ServicerContext

SERVICES = ("collector", "identity", "profile", "segment", "activation", "cli")
CA_NAME = "ca"
CA_DAYS = 3650
CERT_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / f"{CA_NAME}.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / f"{CA_NAME}.key"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def ensure_ca_and_certs(tls_dir: str | Path, services: Iterable[str] = SERVICES) -> TlsFiles:
    """Create the CA and each service's key and certificate where missing (or expiring)."""
    files = TlsFiles(Path(tls_dir))
    if _complete(files, services):
        return files  # nothing to write: works on a read-only mount (a Kubernetes secret)
    files.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key: CertificateIssuerPrivateKeyTypes
    with _locked(files.dir / ".lock"):
        if not (files.ca_cert.exists() and files.ca_key.exists()):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            _write(files.ca_key, _key_pem(ca_key))
            _write(files.ca_cert, _ca_certificate(ca_key).public_bytes(serialization.Encoding.PEM))
        # The CA key is the EC key written above (or by an earlier run).
        ca_key = cast(
            CertificateIssuerPrivateKeyTypes, serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
        )
        ca_cert = x509.load_pem_x509_certificate(files.ca_pem())
        for name in services:
            if not _current(files, name, ca_cert):
                key = ec.generate_private_key(ec.SECP256R1())
                _write(files.key(name), _key_pem(key))
                cert = _leaf_certificate(name, key, ca_key, ca_cert)
                _write(files.cert(name), cert.public_bytes(serialization.Encoding.PEM))
    return files


def issue_certificate(tls_files: TlsFiles, name: str, out_dir: str | Path) -> tuple[Path, Path, Path]:
    """A key and a certificate for `name` (its CN) from this CA, written to out_dir as NAME.key
    (0600) and NAME.crt, with the CA's certificate beside them as ca.crt: a credentials directory
    of its own. The CA must be there already (its key too); nothing is written in tls_files.dir.
    Returns the paths of the certificate, the key and the CA certificate."""
    for path in (tls_files.ca_cert, tls_files.ca_key):
        if not path.is_file():
            raise FileNotFoundError(f"no CA here: {path} is missing")
    ca_key = cast(
        CertificateIssuerPrivateKeyTypes, serialization.load_pem_private_key(tls_files.ca_key.read_bytes(), None)
    )
    ca_cert = x509.load_pem_x509_certificate(tls_files.ca_pem())
    out = TlsFiles(Path(out_dir))
    out.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    _write(out.key(name), _key_pem(key))
    _write(out.cert(name), _leaf_certificate(name, key, ca_key, ca_cert).public_bytes(serialization.Encoding.PEM))
    if out.ca_cert.resolve() != tls_files.ca_cert.resolve():
        _write(out.ca_cert, tls_files.ca_pem())
    return out.cert(name), out.key(name), out.ca_cert


def server_credentials(tls_files: TlsFiles, service: str) -> grpc.ServerCredentials:
    """The service's certificate; clients must present one from the same CA."""
    return grpc.ssl_server_credentials(
        [(tls_files.key(service).read_bytes(), tls_files.cert(service).read_bytes())],
        root_certificates=tls_files.ca_pem(),
        require_client_auth=True,
    )


def channel_credentials(tls_files: TlsFiles, identity: str) -> grpc.ChannelCredentials:
    """Trust only the local CA, and present the certificate of `identity` (a service or "cli")."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls_files.ca_pem(),
        private_key=tls_files.key(identity).read_bytes(),
        certificate_chain=tls_files.cert(identity).read_bytes(),
    )


def peer_service(context: ServicerContext) -> str | None:
    """The CN of the caller's certificate, as verified in the handshake; None without one."""
    auth = context.auth_context() or {}
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    names = list(auth.get("x509_common_name") or [])
    return names[0].decode("utf-8") if names else None


# Certificates ---------------------------------------------------------------------------------


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cdp local CA")])
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    name: str, key: ec.EllipticCurvePrivateKey, ca_key: CertificateIssuerPrivateKeyTypes, ca_cert: x509.Certificate
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=CERT_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Every service is a server to some and a client of others.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            # Its own name too: deployments address services by it (collector:50051).
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _complete(files: TlsFiles, services: Iterable[str]) -> bool:
    """All certificates present and current (the CA's private key need not be: pods don't get it)."""
    if not files.ca_cert.exists():
        return False
    ca_cert = x509.load_pem_x509_certificate(files.ca_pem())
    return all(_current(files, name, ca_cert) for name in services)


def _current(files: TlsFiles, name: str, ca_cert: x509.Certificate) -> bool:
    """Whether name has a key and a certificate from this CA that is not about to expire."""
    if not (files.cert(name).exists() and files.key(name).exists()):
        return False
    cert = x509.load_pem_x509_certificate(files.cert(name).read_bytes())
    if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):  # a certificate from an earlier CA
        return False
    return True


def _key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, content: bytes) -> None:
    # Whole or not at all: written beside the target, then renamed over it.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
