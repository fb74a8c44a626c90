"""The partner kit: everything a partner's developer needs to read its topics, in one directory.

``python -m services.access partners onboard <code> --topics … --out <dir>`` writes
``<dir>/<code>/`` (mode 0700; the files holding the password 0600):

- ``README.md``: how to connect, what may be read, the consumer-group rule, what to do next;
- ``kit.json``: the same, for programs (bootstrap, username, topics, group prefix, files);
- ``ca.crt``: the deployment's CA, the only certificate the broker's is checked against;
- ``password``, ``client.properties`` (Java), ``kcat.conf`` (librdkafka), ``partner.env``
  (Python, ``PASSERELLE_KAFKA_*``): the credentials, in each client's own form;
- ``schemas/``: the JSON Schema of every event of the granted topics (the partner projections);
- ``asyncapi.json``: an AsyncAPI 3 document of the granted topics, its payloads pointing there;
- ``examples/``: consumers ready to run with kcat, Java (the plain Kafka client, built with
  Maven) and Python (aiokafka with the contracts package).

The kit holds a password: hand it over as you would any credential (not by e-mail in clear), and
``rotate`` if it went astray.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from passerelle_contracts import TOPICS
from passerelle_contracts import schemas as schemagen
from passerelle_contracts.partners import PARTNER_EVENT_MODELS

from services.runtime.kafka_access import SASL_MECHANISM

from .principals import partner_group_prefix, partner_principal

KAFKA_CLIENTS_VERSION = "4.1.1"  # the broker's own version (deploy/kafka/pom.xml)
EXAMPLES = Path(__file__).resolve().parent / "kit_examples"
SECRET_FILES = ("password", "client.properties", "kcat.conf", "partner.env")


@dataclass(frozen=True)
class Kit:
    code: str
    username: str
    password: str
    bootstrap: str
    topics: tuple[str, ...]  # as the broker names them (with the deployment's prefix)
    group_prefix: str
    ca_cert: Path
    docs_url: str = ""

    @classmethod
    def for_partner(
        cls, code: str, password: str, *, bootstrap: str, topics: list[str], prefix: str, ca_cert: Path, docs_url: str
    ) -> Kit:
        return cls(
            code=code,
            username=partner_principal(code, prefix),
            password=password,
            bootstrap=bootstrap,
            topics=tuple(prefix + t for t in sorted(topics)),
            group_prefix=partner_group_prefix(code, prefix),
            ca_cert=ca_cert,
            docs_url=docs_url.rstrip("/"),
        )

    @property
    def event_types(self) -> list[str]:
        names = {t.rsplit("passerelle.", 1)[-1] for t in self.topics}
        return sorted(
            {t for spec in TOPICS if spec.name.removeprefix("passerelle.") in names for t in spec.event_types}
        )


def write(kit: Kit, out: Path) -> Path:
    """Write the kit into ``out/<code>/`` (replacing an older one whole); returns the directory."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / kit.code
    staging = Path(tempfile.mkdtemp(prefix=f".{kit.code}-", dir=out))
    try:
        _fill(kit, staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _fill(kit: Kit, d: Path) -> None:
    d.chmod(0o700)
    shutil.copyfile(kit.ca_cert, d / "ca.crt")
    _secret(d / "password", kit.password + "\n")
    _secret(d / "client.properties", java_properties(kit))
    _secret(d / "kcat.conf", librdkafka_properties(kit))
    _secret(
        d / "partner.env",
        f"PASSERELLE_KAFKA_BOOTSTRAP={kit.bootstrap}\nPASSERELLE_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
        f"PASSERELLE_KAFKA_USERNAME={kit.username}\nPASSERELLE_KAFKA_PASSWORD_FILE=password\n"
        "PASSERELLE_KAFKA_CA_FILE=ca.crt\n",
    )
    schemas = d / "schemas"
    schemas.mkdir()
    files = []
    for (event_type, _), model in sorted(PARTNER_EVENT_MODELS.items()):
        if event_type in kit.event_types:
            name = schemagen.schema_name(model)
            (schemas / name).write_text(
                json.dumps(schemagen.event_schema(model, directory=schemagen.PARTNERS_DIR), indent=2) + "\n"
            )
            files.append(f"schemas/{name}")
    (d / "asyncapi.json").write_text(json.dumps(asyncapi(kit), indent=2, ensure_ascii=False) + "\n")
    (d / "kit.json").write_text(json.dumps(description(kit, files), indent=2, ensure_ascii=False) + "\n")
    shutil.copytree(EXAMPLES, d / "examples", ignore=shutil.ignore_patterns("__pycache__", "target"))
    pom = d / "examples" / "java" / "pom.xml"
    pom.write_text(pom.read_text().replace("@KAFKA_CLIENTS_VERSION@", KAFKA_CLIENTS_VERSION))
    (d / "README.md").write_text(readme(kit))


def _secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def java_properties(kit: Kit) -> str:
    # The JAAS line quotes the password; token_urlsafe passwords hold no quote or backslash.
    return f"""\
# Passerelle partner kit for {kit.code}: the plain Java Kafka client's configuration.
bootstrap.servers={kit.bootstrap}
security.protocol=SASL_SSL
sasl.mechanism={SASL_MECHANISM}
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="{kit.username}" password="{kit.password}";
ssl.truststore.type=PEM
ssl.truststore.location=ca.crt
# Consumer groups must start with {kit.group_prefix}
group.id={kit.group_prefix}java
auto.offset.reset=earliest
enable.auto.commit=false
key.deserializer=org.apache.kafka.common.serialization.StringDeserializer
value.deserializer=org.apache.kafka.common.serialization.StringDeserializer
"""


def librdkafka_properties(kit: Kit) -> str:
    return f"""\
# Passerelle partner kit for {kit.code}: librdkafka's configuration (kcat -F kcat.conf).
bootstrap.servers={kit.bootstrap}
security.protocol=sasl_ssl
sasl.mechanisms={SASL_MECHANISM}
sasl.username={kit.username}
sasl.password={kit.password}
ssl.ca.location=ca.crt
"""


def description(kit: Kit, schema_files: list[str]) -> dict[str, Any]:
    return {
        "partner": kit.code,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bootstrap": kit.bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": SASL_MECHANISM,
        "username": kit.username,
        "password_file": "password",
        "ca_file": "ca.crt",
        "topics": list(kit.topics),
        "consumer_group_prefix": kit.group_prefix,
        "event_types": kit.event_types,
        "schemas": schema_files,
        "asyncapi": "asyncapi.json",
        "documentation": kit.docs_url or None,
    }


def asyncapi(kit: Kit) -> dict[str, Any]:
    """An AsyncAPI 3.0 document of what this partner may read."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in kit.topics:
        spec = next(s for s in TOPICS if topic.endswith(s.name))
        refs = {}
        for event_type in spec.event_types:
            model = PARTNER_EVENT_MODELS[(event_type, 1)]
            messages[event_type] = {
                "name": event_type,
                "title": event_type,
                "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
                "contentType": "application/json",
                "payload": {"$ref": f"schemas/{schemagen.schema_name(model)}"},
            }
            refs[event_type] = {"$ref": f"#/components/messages/{event_type}"}
        key = spec.name.removeprefix("passerelle.")
        channels[key] = {
            "address": topic,
            "description": f"{spec.description} Kafka key: {spec.key}.",
            "servers": [{"$ref": "#/servers/passerelle"}],
            "messages": refs,
        }
        operations[f"read:{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{t}"} for t in refs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Passerelle — what {kit.code} may read",
            "version": "1.0.0",
            "description": "The partner topics granted to this partner: the events of the plan, the equipment and the "
            "funding, without the free text people wrote. Consumer groups must start with "
            f"{kit.group_prefix}",
        },
        "defaultContentType": "application/json",
        "servers": {
            "passerelle": {
                "host": kit.bootstrap,
                "protocol": "kafka-secure",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": {
                "scram": {"type": "scramSha512", "description": "username and password of this kit, over TLS (ca.crt)"}
            },
        },
    }


def readme(kit: Kit) -> str:
    topics = "\n".join(f"- `{t}`" for t in kit.topics)
    docs = f"\nMore: {kit.docs_url}\n" if kit.docs_url else ""
    return f"""\
# Passerelle — partner kit for `{kit.code}`

*FR* — Ce dossier permet à vos développeurs de lire les événements de Passerelle qui vous sont
ouverts. Il contient un mot de passe : conservez-le comme tel.
*NL* — Met deze map kunnen uw ontwikkelaars de Passerelle-gebeurtenissen lezen die voor u
openstaan. Ze bevat een wachtwoord: bewaar ze als zodanig.

## Connecting
- bootstrap: `{kit.bootstrap}`
- security: TLS + SASL/SCRAM-SHA-512; trust `ca.crt` only
- username: `{kit.username}`; password: in `password`
- consumer groups: any name that starts with `{kit.group_prefix}`

## What you may read
{topics}

Every record's value is a JSON envelope (`event_id`, `event_type`, `occurred_at`, `subject` (also
the Kafka key), `data`, …); `schemas/<type>.v1.schema.json` describes the whole envelope of each
event type, its `data` included, and `asyncapi.json` describes the topics. Events of one key
keep their order; deduplicate on `event_id` (an event may be delivered more than once). Readers
must ignore fields they do not know: new optional fields are added without notice, anything else
gets a new version.

You may read nothing else and write nowhere: the broker refuses it.

## Examples
- kcat: `sh examples/kcat.sh {kit.topics[0] if kit.topics else "<topic>"}` (kcat needs librdkafka 2.6.1 or later to
  log in with SCRAM to Kafka 4: Debian 13's, or the one bundled with the `confluent-kafka` wheel)
- Java: `cd examples/java && mvn -q package && java -cp "target/classes:target/lib/*" \\
  brussels.passerelle.kit.Consume ../../client.properties {kit.topics[0] if kit.topics else "<topic>"}`
- Python: `pip install aiokafka <passerelle>/contracts` (the contracts package, `contracts/` in
  Passerelle's repository: the event models), then `python examples/python/consume.py --until-end`
{docs}
## When something changes
Ask the Coordination for a new password (`rotate`) if this one may have been seen by someone
else; the old one stops working at once.
"""
