"""How every Kafka client of Passerelle connects: the bootstrap servers and the security, in one
value, so that no client (a service's broker and relay, the topics tool, the dead-letter desk,
a test helper) can be built without them.

Every listener of a Passerelle broker a client reaches is ``SASL_SSL``: TLS against the
deployment's own CA (made at first start, never committed), and SCRAM-SHA-512 for the principal,
so that the broker's ACLs know who writes and who reads (services, partners, the admin tool). The
one exception is ``PLAINTEXT`` towards a loopback address, for a developer's own broker and for
measuring what security costs (``benchmarks.security``); any other host is refused, so a
forgotten variable cannot send a password or an event in clear over a network.

The settings are read once, at start: ``PASSERELLE_KAFKA_BOOTSTRAP``,
``PASSERELLE_KAFKA_SECURITY_PROTOCOL`` (``SASL_SSL``, the default, or ``PLAINTEXT``),
``PASSERELLE_KAFKA_USERNAME``, ``PASSERELLE_KAFKA_PASSWORD`` or ``PASSERELLE_KAFKA_PASSWORD_FILE``
(a file is what container secrets and the local stack give), ``PASSERELLE_KAFKA_CA_FILE``.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

SecurityProtocol = Literal["SASL_SSL", "PLAINTEXT"]
SASL_MECHANISM = "SCRAM-SHA-512"
ENV_PREFIX = "PASSERELLE_KAFKA_"


class KafkaAccessError(ValueError):
    """The settings cannot make a safe connection; the message says which one to set."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host(server: str) -> str:
    return server.rsplit(":", 1)[0] if ":" in server else server


def read_secret_file(path: str | Path) -> str:
    """A password from a file: its first line, without the newline editors and `echo` add."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise KafkaAccessError(f"cannot read the Kafka password file {path}: {error.strerror}") from None
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise KafkaAccessError(f"the Kafka password file {path} is empty")
    return secret


@dataclass(frozen=True)
class KafkaAccess:
    """The servers to reach and how to prove who we are to them."""

    bootstrap: str
    security_protocol: SecurityProtocol = "SASL_SSL"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.servers:
            raise KafkaAccessError(f"{ENV_PREFIX}BOOTSTRAP: no server in {self.bootstrap!r}")
        if self.security_protocol == "SASL_SSL":
            missing = [
                f"{ENV_PREFIX}{name}"
                for name, value in (("USERNAME", self.username), ("PASSWORD", self.password), ("CA_FILE", self.ca_file))
                if not value
            ]
            if missing:
                raise KafkaAccessError(
                    f"SASL_SSL needs {', '.join(missing)} (the local stack writes them in .run/kafka; "
                    f"PLAINTEXT is for a broker on loopback only)"
                )
        elif self.security_protocol == "PLAINTEXT":
            remote = [s for s in self.servers if not _is_loopback(_host(s))]
            if remote:
                raise KafkaAccessError(
                    f"PLAINTEXT is refused towards {', '.join(remote)}: only a loopback broker may go without "
                    f"TLS and a password ({ENV_PREFIX}SECURITY_PROTOCOL=SASL_SSL)"
                )
        else:
            raise KafkaAccessError(
                f"{ENV_PREFIX}SECURITY_PROTOCOL: {self.security_protocol!r} is not SASL_SSL or PLAINTEXT"
            )

    @classmethod
    def from_environment(cls, bootstrap: str | None = None, environ: Mapping[str, str] = os.environ) -> KafkaAccess:
        """For tools and tests, which have no settings object: the same variables as the services'."""
        password = environ.get(f"{ENV_PREFIX}PASSWORD") or None
        if password is None and (path := environ.get(f"{ENV_PREFIX}PASSWORD_FILE")):
            password = read_secret_file(path)
        protocol = environ.get(f"{ENV_PREFIX}SECURITY_PROTOCOL", "SASL_SSL").upper()
        return cls(
            bootstrap=bootstrap or environ.get(f"{ENV_PREFIX}BOOTSTRAP", "127.0.0.1:19092"),
            security_protocol=protocol,  # type: ignore[arg-type] # checked in __post_init__
            username=environ.get(f"{ENV_PREFIX}USERNAME") or None,
            password=password,
            ca_file=environ.get(f"{ENV_PREFIX}CA_FILE") or None,
        )

    def as_principal(self, username: str, password: str) -> KafkaAccess:
        """The same servers and CA, another principal (a partner's, a service's)."""
        return KafkaAccess(self.bootstrap, "SASL_SSL", username, password, self.ca_file)

    def settings(self) -> dict[str, Any]:
        """The same as a service's settings (``ServiceSettings(**access.settings())``)."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": self.security_protocol,
            "kafka_username": self.username,
            "kafka_password": self.password,
            "kafka_ca_file": self.ca_file,
        }

    def environment(self) -> dict[str, str]:
        """The same as environment variables, for a process to start with (the password inline:
        for tests and tools; deployments give a file)."""
        names = {"kafka_bootstrap": "BOOTSTRAP", "kafka_security_protocol": "SECURITY_PROTOCOL"}
        names |= {"kafka_username": "USERNAME", "kafka_password": "PASSWORD", "kafka_ca_file": "CA_FILE"}
        return {f"{ENV_PREFIX}{names[k]}": str(v) for k, v in self.settings().items() if v is not None}

    @property
    def servers(self) -> list[str]:
        # "a:1,b:2" is a cluster; FastStream and aiokafka both take a list.
        return [server.strip() for server in self.bootstrap.split(",") if server.strip()]

    @property
    def secure(self) -> bool:
        return self.security_protocol == "SASL_SSL"

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """One context per access (made once: it reads the CA file): verifies the broker's
        certificate and host name against the deployment's CA only, not the system's."""
        if not self.secure:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def security(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for the security (FastStream passes them through)."""
        if not self.secure:
            return {"security_protocol": "PLAINTEXT"}
        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": self.ssl_context,
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def aiokafka(self) -> dict[str, Any]:
        """Everything an ``AIOKafkaProducer``/``Consumer``/``AdminClient`` needs to connect."""
        return {"bootstrap_servers": self.servers, **self.security()}

    def faststream_security(self) -> Any:
        """FastStream's security object (it also describes the scheme in the AsyncAPI document)."""
        if not self.secure:
            return None
        from faststream.security import SASLScram512

        return SASLScram512(self.username or "", self.password or "", ssl_context=self.ssl_context, use_ssl=True)

    def librdkafka(self) -> dict[str, str]:
        """The same for librdkafka clients (confluent-kafka, kcat): its property names."""
        config = {"bootstrap.servers": ",".join(self.servers), "security.protocol": self.security_protocol.lower()}
        if self.secure:
            config |= {
                "sasl.mechanisms": SASL_MECHANISM,
                "sasl.username": self.username or "",
                "sasl.password": self.password or "",
                "ssl.ca.location": self.ca_file or "",
            }
        return config
