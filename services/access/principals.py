"""Who may read and write what: the ACLs of every principal, derived from the topic registry.

Nothing here talks to Kafka: these are values (``Grant``), compared with what the broker holds
by ``admin`` and written there by the CLI. Deriving them from the registry keeps one source of
truth: a topic's ``producer`` is the only principal that may write to it, its ``consumers`` the
only services that may read it, and a partner reads the partner topics it was granted, nothing
else. A service subscribing to a topic the registry does not list it for would be refused by the
broker, and ``tests/unit/access`` fails first.

Principals (SCRAM user names; Kafka sees them as ``User:<name>``):

- ``admin``: the tools' (topics, principals, ACLs, dead-letter replays); a super user, bootstrapped
  when the broker's storage is formatted, so it needs no ACL.
- ``service-<name>``: one per service. WRITE on the topics it produces; READ on those it
  consumes; its consumer groups (``<prefix><name>.``, the runtime's ``ServiceSettings.group``);
  WRITE and READ on the dead-letter topics of what it consumes; CREATE, DESCRIBE and
  DESCRIBE_CONFIGS on the registry's topics (each service creates those it finds missing at start,
  and checks them against the registry).
- ``partner-<code>``: READ on the partner topics granted, and on its own consumer groups
  (``partner-<code>.``). Nothing else: no WRITE anywhere, no internal topic.

Every grant is for one deployment's topic prefix (``PASSERELLE_TOPIC_PREFIX``), so two stacks on
one broker (a test run beside a developer's) never reach each other's topics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from passerelle_contracts import TOPICS, all_topics
from passerelle_contracts.registry import TopicSpec

ResourceType = Literal["topic", "group", "cluster"]
PatternType = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "create", "describe", "describe_configs"]

ADMIN = "admin"
SERVICE_PREFIX = "service-"
PARTNER_PREFIX = "partner-"
# A partner code: lower-case letters, digits and hyphens, as organisation codes are elsewhere.
PARTNER_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
CLUSTER = "kafka-cluster"  # the one name Kafka gives the cluster resource


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may ``operation`` on a resource, from any host."""

    principal: str  # the SCRAM user name, without "User:"
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation

    def __str__(self) -> str:
        pattern = "*" if self.pattern_type == "prefixed" else ""
        return f"User:{self.principal} {self.operation.upper()} {self.resource_type} {self.resource_name}{pattern}"


def service_principal(service: str) -> str:
    return SERVICE_PREFIX + service


def partner_principal(code: str) -> str:
    if not PARTNER_CODE.fullmatch(code):
        raise ValueError(f"partner code {code!r}: lower-case letters, digits and inner hyphens, at most 40")
    return PARTNER_PREFIX + code


def partner_group_prefix(code: str, prefix: str = "") -> str:
    """The consumer groups a partner may use: ``<prefix>partner-<code>.<anything>``."""
    return f"{prefix}{partner_principal(code)}."


def services() -> tuple[str, ...]:
    """The services that produce a topic of the registry (each has its principal)."""
    return tuple(sorted({spec.producer for spec in TOPICS}))


def consumed_by(service: str) -> tuple[TopicSpec, ...]:
    return tuple(spec for spec in TOPICS if service in spec.consumers)


def produced_by(service: str) -> tuple[TopicSpec, ...]:
    return tuple(spec for spec in TOPICS if spec.producer == service)


def partner_topics() -> tuple[str, ...]:
    """The topics a partner may be granted (the registry's audience)."""
    return tuple(spec.name for spec in TOPICS if spec.audience == "partner")


def _topic(principal: str, name: str, *operations: Operation) -> list[Grant]:
    return [Grant(principal, "topic", name, "literal", op) for op in operations]


def service_grants(service: str, prefix: str = "") -> list[Grant]:
    if service not in services():
        raise ValueError(f"{service!r} is not a service of the registry ({', '.join(services())})")
    who = service_principal(service)
    grants: list[Grant] = []
    for spec in all_topics():
        grants += _topic(who, prefix + spec.name, "create", "describe", "describe_configs")
    for spec in produced_by(service):
        grants += _topic(who, prefix + spec.name, "write")
    for spec in consumed_by(service):
        grants += _topic(who, prefix + spec.name, "read")
        grants += _topic(who, prefix + spec.dead_letter.name, "read", "write")
    if consumed_by(service):
        grants += [Grant(who, "group", f"{prefix}{service}.", "prefixed", op) for op in ("read", "describe")]
    return sorted(set(grants))


def partner_grants(code: str, topics: Iterable[str], prefix: str = "") -> list[Grant]:
    who = partner_principal(code)
    allowed = set(partner_topics())
    refused = sorted(set(topics) - allowed)
    if refused:
        raise ValueError(
            f"not partner topics: {', '.join(refused)} (partners may be granted: {', '.join(sorted(allowed)) or 'none'})"
        )
    grants: list[Grant] = []
    for name in sorted(set(topics)):
        grants += _topic(who, prefix + name, "read", "describe")
    grants += [Grant(who, "group", partner_group_prefix(code, prefix), "prefixed", op) for op in ("read", "describe")]
    return sorted(set(grants))
