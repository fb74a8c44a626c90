"""How every Kafka client connects: TLS and a password, or plain text towards loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.actions.settings import ActionsSettings
from services.runtime.kafka_access import KafkaAccess, KafkaAccessError


def test_without_credentials_a_secure_connection_names_every_setting_missing() -> None:
    with pytest.raises(KafkaAccessError) as refused:
        KafkaAccess("kafka:9092")
    message = str(refused.value)
    for name in ("PASSERELLE_KAFKA_USERNAME", "PASSERELLE_KAFKA_PASSWORD", "PASSERELLE_KAFKA_CA_FILE"):
        assert name in message


@pytest.mark.parametrize("servers", ["kafka:9092", "127.0.0.1:19092,10.0.0.5:9092", "passerelle.example:9092"])
def test_plain_text_is_refused_towards_any_host_that_is_not_loopback(servers: str) -> None:
    with pytest.raises(KafkaAccessError, match="PLAINTEXT is refused"):
        KafkaAccess(servers, "PLAINTEXT")


@pytest.mark.parametrize("servers", ["127.0.0.1:19092", "localhost:9092", "[::1]:9092", "127.0.0.1:1,127.0.0.2:2"])
def test_plain_text_is_allowed_towards_loopback(servers: str) -> None:
    assert KafkaAccess(servers, "PLAINTEXT").aiokafka()["security_protocol"] == "PLAINTEXT"


def test_an_unknown_security_protocol_is_refused() -> None:
    with pytest.raises(KafkaAccessError, match="SASL_PLAINTEXT"):
        KafkaAccess("127.0.0.1:1", "SASL_PLAINTEXT")  # type: ignore[arg-type] # what a typo in the setting gives


def test_the_password_never_shows_in_the_representation() -> None:
    access = KafkaAccess("kafka:9092", "SASL_SSL", "actions", "s3cret-value", "/ca.crt")
    assert "s3cret-value" not in repr(access)


def test_a_secure_access_gives_aiokafka_and_librdkafka_the_same_principal(tmp_path: Path, ca_file: Path) -> None:
    access = KafkaAccess("a:1, b:2", "SASL_SSL", "partner-caban", "pw", str(ca_file))
    options = access.aiokafka()
    assert options["bootstrap_servers"] == ["a:1", "b:2"]
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("partner-caban", "pw")
    assert options["ssl_context"].check_hostname, "the broker's name is checked against its certificate"
    assert access.librdkafka() == {
        "bootstrap.servers": "a:1,b:2",
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "partner-caban",
        "sasl.password": "pw",
        "ssl.ca.location": str(ca_file),
    }


def test_the_password_file_is_read_once_at_start_without_its_newline(tmp_path: Path, ca_file: Path) -> None:
    secret = tmp_path / "actions.password"
    secret.write_text("from-a-file\n")
    environ = {
        "PASSERELLE_KAFKA_USERNAME": "actions",
        "PASSERELLE_KAFKA_PASSWORD_FILE": str(secret),
        "PASSERELLE_KAFKA_CA_FILE": str(ca_file),
    }
    access = KafkaAccess.from_environment("kafka:9092", environ)
    assert (access.username, access.password) == ("actions", "from-a-file")
    secret.write_text("changed\n")
    assert access.aiokafka()["sasl_plain_password"] == "from-a-file"


def test_a_service_does_not_start_with_an_empty_password_file(tmp_path: Path, ca_file: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        ActionsSettings(
            database_url="postgresql://x",
            kafka_security_protocol="SASL_SSL",
            kafka_username="actions",
            kafka_password_file=str(empty),
            kafka_ca_file=str(ca_file),
        )


def test_a_services_settings_carry_its_access(ca_file: Path) -> None:
    settings = ActionsSettings(
        database_url="postgresql://x",
        kafka_bootstrap="kafka:9092",
        kafka_security_protocol="sasl_ssl",
        kafka_username="actions",
        kafka_password="pw",
        kafka_ca_file=str(ca_file),
    )
    assert settings.kafka == KafkaAccess("kafka:9092", "SASL_SSL", "actions", "pw", str(ca_file))
    assert "pw" not in repr(settings)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    """A real CA certificate: the SSL context loads it."""
    from services.access.pki import ensure_pki

    return ensure_pki(tmp_path / "pki", hosts=["127.0.0.1"]).ca_cert
