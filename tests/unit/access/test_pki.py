"""The private CA and the broker's certificate (``services.access.pki``): made once, left alone
after, reissued when a host is added or the end is near, and always verifiable against the CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError

from services.access import pki as pki_module
from services.access.pki import BROKER_PRINCIPAL, Pki, PkiError, ensure_pki, generate_password

HOSTS = ["127.0.0.1", "localhost", "kafka"]


def files(pki: Pki) -> dict[str, tuple[bytes, int]]:
    """Every file of the directory: its content and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(pki.directory.iterdir())}


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sans(certificate: x509.Certificate) -> set[str]:
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*names.get_values_for_type(x509.DNSName), *map(str, names.get_values_for_type(x509.IPAddress))}


def test_the_first_call_creates_a_ca_and_a_broker_certificate_and_names_their_files(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", hosts=HOSTS)

    assert pki == Pki.at(tmp_path / "pki")
    assert sorted(p.name for p in pki.directory.iterdir()) == [
        "broker.crt",
        "broker.key",
        "broker.pem",
        "ca.crt",
        "ca.key",
    ]


def test_the_ca_may_sign_certificates_for_ten_years(tmp_path: Path) -> None:
    ca = cert(ensure_pki(tmp_path, hosts=HOSTS).ca_cert)

    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical and constraints.value.ca
    assert usage.key_cert_sign
    assert ca.issuer == ca.subject
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3650)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_the_broker_certificate_names_every_host_and_serves_both_ends_of_tls(tmp_path: Path) -> None:
    broker = cert(ensure_pki(tmp_path, hosts=HOSTS).broker_cert)

    assert sans(broker) == set(HOSTS)
    assert broker.subject.rfc4514_string() == "CN=passerelle-kafka-broker"
    assert BROKER_PRINCIPAL == "User:CN=passerelle-kafka-broker"
    purposes = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(purposes) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not broker.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = broker.not_valid_after_utc - broker.not_valid_before_utc
    assert dt.timedelta(days=700) < lifetime < dt.timedelta(days=740)


@pytest.mark.parametrize("host", [DNSName("localhost"), DNSName("kafka"), IPAddress(ipaddress.ip_address("127.0.0.1"))])
def test_the_broker_certificate_verifies_against_the_ca_as_a_server(tmp_path: Path, host: DNSName | IPAddress) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    verifier = PolicyBuilder().store(Store([cert(pki.ca_cert)])).build_server_verifier(host)

    chain = verifier.verify(cert(pki.broker_cert), [])

    assert chain[-1] == cert(pki.ca_cert)


def test_the_broker_certificate_verifies_against_the_ca_as_a_client(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    verifier = PolicyBuilder().store(Store([cert(pki.ca_cert)])).build_client_verifier()

    verified = verifier.verify(cert(pki.broker_cert), [])

    assert verified.chain[-1] == cert(pki.ca_cert)


def test_a_certificate_from_another_ca_does_not_verify(tmp_path: Path) -> None:
    ours = ensure_pki(tmp_path / "ours", hosts=HOSTS)
    theirs = ensure_pki(tmp_path / "theirs", hosts=HOSTS)
    verifier = PolicyBuilder().store(Store([cert(ours.ca_cert)])).build_server_verifier(DNSName("kafka"))

    with pytest.raises(VerificationError):
        verifier.verify(cert(theirs.broker_cert), [])


def test_the_keys_are_unencrypted_pkcs8_and_match_their_certificates(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)

    for key_file, cert_file in [(pki.ca_key, pki.ca_cert), (pki.broker_key, pki.broker_cert)]:
        pem = key_file.read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
        key = serialization.load_pem_private_key(pem, password=None)
        assert key.public_key() == cert(cert_file).public_key()


def test_the_broker_pem_holds_the_key_then_the_chain_up_to_the_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    pem = pki.broker_pem.read_bytes()

    assert pem.startswith(pki.broker_key.read_bytes())
    assert x509.load_pem_x509_certificates(pem) == [cert(pki.broker_cert), cert(pki.ca_cert)]


def test_python_ssl_loads_the_broker_pem_and_trusts_the_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.broker_pem)
    client = ssl.create_default_context(cafile=str(pki.ca_cert))

    assert client.get_ca_certs()[0]["subject"] == ((("commonName", "Passerelle Kafka CA"),),)


def test_keys_are_readable_by_their_owner_only_and_so_is_the_directory(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", hosts=HOSTS)

    assert mode(pki.directory) == 0o700
    assert mode(pki.ca_key) == mode(pki.broker_key) == mode(pki.broker_pem) == 0o600
    assert mode(pki.ca_cert) == mode(pki.broker_cert) == 0o644


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    ensure_pki(tmp_path, hosts=[*HOSTS, "kafka-2"])

    assert not [p for p in pki.directory.iterdir() if p.name.startswith(".")]


def test_a_second_call_changes_no_file(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    before = files(pki)

    ensure_pki(tmp_path, hosts=HOSTS)

    assert files(pki) == before


def test_asking_for_fewer_hosts_than_the_certificate_has_changes_nothing(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    before = files(pki)

    ensure_pki(tmp_path, hosts=["kafka"])

    assert files(pki) == before


def test_a_new_host_reissues_the_broker_certificate_and_keeps_the_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    before = files(pki)

    ensure_pki(tmp_path, hosts=[*HOSTS, "kafka.passerelle.example", "10.0.0.7"])

    after = files(pki)
    assert after["ca.crt"] == before["ca.crt"] and after["ca.key"] == before["ca.key"]
    assert after["broker.crt"][0] != before["broker.crt"][0]
    assert after["broker.key"][0] != before["broker.key"][0]
    assert sans(cert(pki.broker_cert)) == {*HOSTS, "kafka.passerelle.example", "10.0.0.7"}
    cert(pki.broker_cert).verify_directly_issued_by(cert(pki.ca_cert))


def test_a_broker_certificate_expiring_within_30_days_is_reissued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(pki_module, "BROKER_VALIDITY", dt.timedelta(days=29))
        pki = ensure_pki(tmp_path, hosts=HOSTS)
    ca_before = pki.ca_cert.read_bytes()

    ensure_pki(tmp_path, hosts=HOSTS)

    left = cert(pki.broker_cert).not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert left > dt.timedelta(days=700)
    assert pki.ca_cert.read_bytes() == ca_before


def test_a_broker_certificate_signed_by_another_ca_is_reissued(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "ours", hosts=HOSTS)
    stranger = ensure_pki(tmp_path / "theirs", hosts=HOSTS)
    for name in ("broker.crt", "broker.key", "broker.pem"):
        (pki.directory / name).write_bytes((stranger.directory / name).read_bytes())

    ensure_pki(tmp_path / "ours", hosts=HOSTS)

    cert(pki.broker_cert).verify_directly_issued_by(cert(pki.ca_cert))


def test_a_broker_key_that_is_not_the_certificate_s_is_replaced_with_both(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    pki.broker_key.write_bytes(pki.ca_key.read_bytes())

    ensure_pki(tmp_path, hosts=HOSTS)

    key = serialization.load_pem_private_key(pki.broker_key.read_bytes(), password=None)
    assert key.public_key() == cert(pki.broker_cert).public_key()


def test_a_widened_key_file_is_put_back_to_0600_without_a_rewrite(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, hosts=HOSTS)
    content = pki.broker_key.read_bytes()
    pki.broker_key.chmod(0o644)
    pki.ca_key.chmod(0o640)

    ensure_pki(tmp_path, hosts=HOSTS)

    assert mode(pki.broker_key) == mode(pki.ca_key) == 0o600
    assert pki.broker_key.read_bytes() == content


@pytest.mark.parametrize("kept", ["ca.crt", "ca.key"])
def test_half_a_ca_is_refused_rather_than_replaced(tmp_path: Path, kept: str) -> None:
    ensure_pki(tmp_path, hosts=HOSTS)
    gone = {"ca.crt": "ca.key", "ca.key": "ca.crt"}[kept]
    (tmp_path / gone).unlink()

    with pytest.raises(PkiError, match=gone):
        ensure_pki(tmp_path, hosts=HOSTS)

    assert (tmp_path / kept).exists()


def test_a_ca_key_that_is_not_the_ca_s_is_refused(tmp_path: Path) -> None:
    ours = ensure_pki(tmp_path / "ours", hosts=HOSTS)
    theirs = ensure_pki(tmp_path / "theirs", hosts=HOSTS)
    ours.ca_key.write_bytes(theirs.ca_key.read_bytes())

    with pytest.raises(PkiError, match="is not the key of"):
        ensure_pki(tmp_path / "ours", hosts=HOSTS)


def test_a_broker_certificate_needs_at_least_one_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        ensure_pki(tmp_path, hosts=[])


def test_the_ca_is_named_for_passerelle(tmp_path: Path) -> None:
    ca = cert(ensure_pki(tmp_path, hosts=HOSTS).ca_cert)

    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Passerelle Kafka CA"


def test_a_generated_password_is_43_url_safe_characters_and_never_the_same() -> None:
    passwords = {generate_password() for _ in range(100)}

    assert len(passwords) == 100
    assert all(len(p) == 43 and p.replace("-", "").replace("_", "").isalnum() for p in passwords)
