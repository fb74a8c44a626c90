"""Passerelle's private certificate authority and the Kafka broker's TLS certificate.

``ensure_pki(directory, hosts=[...])`` is idempotent: the first call creates a CA and a broker
certificate signed by it; later calls leave every file as it is, unless the broker certificate no
longer fits (a requested host missing from its names, less than 30 days left, not signed by the
CA, or not matching its key), in which case the broker certificate and key alone are reissued.
The CA is never replaced: partners trust it, so a missing or mismatched half of it is an error for
an operator, not something to paper over with a new one.

Keys are EC P-256, which every client here accepts: the JVM's TLS and Kafka's PEM key stores
(KIP-651 reads PKCS#8 RSA, DSA and EC keys), OpenSSL under librdkafka and kcat, and Python's
``ssl``. Ed25519 would not do: Java's TLS does not offer it for every handshake.

Files, in ``directory`` (mode 0700):

- ``ca.crt``, ``ca.key``: the CA (10 years; the key 0600).
- ``broker.crt``, ``broker.key``: the broker's certificate (about 2 years; subject
  ``CN=passerelle-kafka-broker``, so Kafka's default principal for it is
  ``User:CN=passerelle-kafka-broker``) and its unencrypted PKCS#8 key (0600). Server and client
  authentication both: the broker uses it towards the controller and other brokers too.
- ``broker.pem``: the key, then the certificate, then the CA's: what ``ssl.keystore.location``
  takes with ``ssl.keystore.type=PEM``.

Every file is written to a temporary name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_COMMON_NAME = "passerelle-kafka-broker"
BROKER_PRINCIPAL = f"User:CN={BROKER_COMMON_NAME}"  # Kafka's default mapping: the whole subject DN
CA_COMMON_NAME = "Passerelle Kafka CA"
CA_VALIDITY = dt.timedelta(days=3650)
BROKER_VALIDITY = dt.timedelta(days=730)
RENEW_BEFORE = dt.timedelta(days=30)
# Issued a little in the past, so a peer whose clock runs behind does not see it "not yet valid".
BACKDATE = dt.timedelta(minutes=5)

PRIVATE = 0o600
PUBLIC = 0o644

Host: TypeAlias = x509.DNSName | x509.IPAddress


class PkiError(Exception):
    """The directory holds a CA that cannot be used, and replacing it is an operator's call."""


@dataclass(frozen=True)
class Pki:
    """Where ``ensure_pki`` left the files."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    broker_cert: Path
    broker_key: Path
    broker_pem: Path

    @classmethod
    def at(cls, directory: Path) -> Pki:
        return cls(
            directory=directory,
            ca_cert=directory / "ca.crt",
            ca_key=directory / "ca.key",
            broker_cert=directory / "broker.crt",
            broker_key=directory / "broker.key",
            broker_pem=directory / "broker.pem",
        )


def generate_password() -> str:
    """A password for a SCRAM credential: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def ensure_password(path: Path) -> str:
    """The password in ``path``, made (0600, in a 0700 directory) if there is none yet."""
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(generate_password() + "\n")
    return path.read_text().strip()


def ensure_pki(directory: Path, *, hosts: Sequence[str]) -> Pki:
    """Create the CA and the broker certificate if missing, reissue the broker's if it does not
    cover ``hosts`` (DNS names or IP addresses) or expires within 30 days; see the module doc."""
    names = [_host(h) for h in hosts]
    if not names:
        raise ValueError("ensure_pki: at least one host is needed for the broker certificate")
    pki = Pki.at(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = dt.datetime.now(dt.UTC)

    ca_cert, ca_key = _ensure_ca(pki, now)
    if not _broker_fits(pki, ca_cert, names, now):
        _issue_broker(pki, ca_cert, ca_key, names, now)
    return pki


def _host(host: str) -> Host:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _ensure_ca(pki: Pki, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    present = [p.exists() for p in (pki.ca_cert, pki.ca_key)]
    if not any(present):
        return _create_ca(pki, now)
    if not all(present):
        missing = pki.ca_key if present[0] else pki.ca_cert
        raise PkiError(f"{missing} is missing but its other half is there: restore it, or remove both for a new CA")
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise PkiError(f"{pki.ca_key} is not the key of {pki.ca_cert}")
    _restrict(pki.ca_key, PRIVATE)
    return cert, key


def _create_ca(pki: Pki, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    # Key first: a CA certificate without its key would make the next call refuse to go on.
    _write(pki.ca_key, _key_pem(key), PRIVATE)
    _write(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC)
    return cert, key


def _broker_fits(pki: Pki, ca_cert: x509.Certificate, names: Sequence[Host], now: dt.datetime) -> bool:
    if not all(p.is_file() for p in (pki.broker_cert, pki.broker_key, pki.broker_pem)):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pki.broker_cert.read_bytes())
        key = serialization.load_pem_private_key(pki.broker_key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return False
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return False
    if pki.broker_pem.read_bytes() != _broker_pem(key, cert, ca_cert):
        return False
    _restrict(pki.broker_key, PRIVATE)
    _restrict(pki.broker_pem, PRIVATE)
    return all(name in sans for name in names)


def _issue_broker(
    pki: Pki,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: Sequence[Host],
    now: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_COMMON_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + BROKER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pki.broker_key, _key_pem(key), PRIVATE)
    _write(pki.broker_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC)
    _write(pki.broker_pem, _broker_pem(key, cert, ca_cert), PRIVATE)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _broker_pem(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_cert: x509.Certificate) -> bytes:
    return b"".join(
        [_key_pem(key), cert.public_bytes(serialization.Encoding.PEM), ca_cert.public_bytes(serialization.Encoding.PEM)]
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` in one step: a temporary file beside it, created with
    ``mode`` (never wider for a moment), flushed to disk, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _restrict(path: Path, mode: int) -> None:
    """Put a key file back to ``mode`` if someone widened it (no rewrite: the content stays)."""
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)
