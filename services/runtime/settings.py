"""One typed settings object per service, read once from the environment, failing fast."""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .kafka_access import KafkaAccess, KafkaAccessError, read_secret_file

S = TypeVar("S", bound="ServiceSettings")

SHARED_PREFIX = "PASSERELLE_"


class ServiceSettings(BaseSettings):
    """Settings every service has. A service subclasses it and sets ``env_prefix``.

    Shared values (Kafka, topic prefix, logging) come from ``PASSERELLE_*``; the others from the
    service's own prefix (``PASSERELLE_ACTIONS_DATABASE_URL``).
    """

    model_config = SettingsConfigDict(env_prefix=SHARED_PREFIX, extra="ignore", frozen=True, populate_by_name=True)

    service_name: str
    database_url: str = Field(description="postgresql://user:password@host:port/database")
    kafka_bootstrap: str = Field(default="127.0.0.1:19092", validation_alias=AliasChoices("PASSERELLE_KAFKA_BOOTSTRAP"))
    kafka_security_protocol: str = Field(
        default="SASL_SSL",
        validation_alias=AliasChoices("PASSERELLE_KAFKA_SECURITY_PROTOCOL"),
        description="SASL_SSL (TLS + SCRAM-SHA-512); PLAINTEXT only towards a loopback broker.",
    )
    kafka_username: str | None = Field(default=None, validation_alias=AliasChoices("PASSERELLE_KAFKA_USERNAME"))
    kafka_password: SecretStr | None = Field(default=None, validation_alias=AliasChoices("PASSERELLE_KAFKA_PASSWORD"))
    kafka_password_file: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PASSERELLE_KAFKA_PASSWORD_FILE"),
        description="Read once at start when PASSERELLE_KAFKA_PASSWORD is not set (container secrets).",
    )
    kafka_ca_file: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PASSERELLE_KAFKA_CA_FILE"),
        description="The deployment's CA certificate (PEM), the only one the broker's certificate is checked against.",
    )
    topic_prefix: str = Field(
        default="",
        validation_alias=AliasChoices("PASSERELLE_TOPIC_PREFIX"),
        description="Prepended to every topic and consumer group (isolates test runs).",
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("PASSERELLE_TOPIC_REPLICATION_FACTOR"),
        description="Copies of each topic the services create: 1 on one broker, 3 on a cluster.",
    )
    topic_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("PASSERELLE_TOPIC_MIN_INSYNC_REPLICAS"),
        description="Copies that must have an event before it is acknowledged (acks=all): 2 on a cluster of 3.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("PASSERELLE_LOG_LEVEL"))
    log_json: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("PASSERELLE_LOG_JSON"),
        description="Default: JSON unless on a terminal.",
    )
    db_pool_min: int = 1
    db_pool_max: int = 10
    consumer_batch_max: int = Field(default=200, ge=1, description="Records read and committed together.")
    consumer_batch_wait_ms: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="How long a consumer waits for records before polling again; FastStream then sleeps as long, "
        "so an idle consumer sees a new record up to this late. A batch never waits to fill up.",
    )
    consumer_max_attempts: int = Field(default=4, ge=1, description="Tries of a failing handler before dead-lettering.")
    consumer_conflict_max_attempts: int = Field(
        default=5, ge=1, description="Tries in place of a handler that meets a deadlock or a serialization failure."
    )
    consumer_backoff_initial_s: float = Field(default=0.2, gt=0)
    consumer_backoff_max_s: float = Field(default=5.0, gt=0)
    consumer_max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1000,
        description="Kafka's max.poll.interval.ms: a consumer that does not poll for this long is evicted from "
        "its group. A batch stops at half of it; the rest is delivered again.",
    )
    outbox_poll_interval_s: float = Field(default=1.0, gt=0, description="Polling fallback when no NOTIFY arrives.")
    outbox_batch_size: int = Field(
        default=5000,
        ge=1,
        description="Outbox rows the relay reads and sends per pass. It holds up to three batches (one being "
        "marked published, one sent, the next read ahead): a few MB with events of about 1 kB.",
    )
    outbox_keep_published_s: int = Field(default=7 * 24 * 3600, description="How long sent outbox rows are kept.")

    _kafka: KafkaAccess = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        password = self.kafka_password.get_secret_value() if self.kafka_password else None
        try:
            if password is None and self.kafka_password_file:
                password = read_secret_file(self.kafka_password_file)
            self._kafka = KafkaAccess(
                bootstrap=self.kafka_bootstrap,
                security_protocol=self.kafka_security_protocol.upper(),  # type: ignore[arg-type] # checked there
                username=self.kafka_username,
                password=password,
                ca_file=self.kafka_ca_file,
            )
        except KafkaAccessError as error:
            raise ValueError(str(error)) from None  # pydantic reports it as a validation error

    @property
    def kafka(self) -> KafkaAccess:
        """How this service's Kafka clients connect (see ``kafka_access``)."""
        return self._kafka

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def group(self, consumer: str) -> str:
        return f"{self.topic_prefix}{self.service_name}.{consumer}"


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read the settings once; on a missing or invalid value, exit with a message that names it."""
    try:
        return cls(**overrides)  # pydantic validates whatever is passed
    except ValidationError as error:
        prefix = cls.model_config.get("env_prefix", "")
        lines = [f"{cls.__name__}: invalid configuration"]
        for problem in error.errors():
            name = ".".join(str(p) for p in problem["loc"])
            lines.append(f"  {prefix}{name.upper()}: {problem['msg']}")
        sys.exit("\n".join(lines))
