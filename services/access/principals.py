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
- ``service-gateway``: the HTTP stream of the partner topics (``services.gateway``): READ on every
  partner topic (without a consumer group: each stream reads where its partner left off), and
  DESCRIBE on the cluster, to read the partners' ACLs, which are what it lets each one stream.
- ``partner-<code>``: READ on the partner topics granted, and on its own consumer groups
  (``partner-<code>.``). Nothing else: no WRITE anywhere, no internal topic.

Every grant is for one deployment's topic prefix (``PASSERELLE_TOPIC_PREFIX``), and so is every
principal's name (``<prefix>service-actions``, ``<prefix>partner-caban``): two stacks on one
broker (a test run beside a developer's) never reach each other's topics, nor share a password.
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


def service_principal(service: str, prefix: str = "") -> str:
    return f"{prefix}{SERVICE_PREFIX}{service}"


def partner_principal(code: str, prefix: str = "") -> str:
    if not PARTNER_CODE.fullmatch(code):
        raise ValueError(f"partner code {code!r}: lower-case letters, digits and inner hyphens, at most 40")
    return f"{prefix}{PARTNER_PREFIX}{code}"


def partner_group_prefix(code: str, prefix: str = "") -> str:
    """The consumer groups a partner may use: its user name and a dot, then anything."""
    return partner_principal(code, prefix) + "."


GATEWAY = "gateway"
DASHBOARD = "dashboard"  # reads every internal topic (the registry lists it as their consumer), writes none


def services() -> tuple[str, ...]:
    """The services that have a principal: the producers of the registry's topics, the gateway and
    the dashboard."""
    return tuple(sorted({spec.producer for spec in TOPICS} | {GATEWAY, DASHBOARD}))


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
    who = service_principal(service, prefix)
    grants: list[Grant] = []
    for spec in all_topics():
        grants += _topic(who, prefix + spec.name, "create", "describe", "describe_configs")
    if service == GATEWAY:  # its READ on the partner topics: the registry lists it as their consumer
        grants.append(Grant(who, "cluster", CLUSTER, "literal", "describe"))
    for spec in produced_by(service):
        grants += _topic(who, prefix + spec.name, "write")
    for spec in consumed_by(service):
        grants += _topic(who, prefix + spec.name, "read")
    # Dead letters and consumer groups are those of the internal topics a service consumes: a
    # partner topic has no dead-letter topic (``all_topics``), and the gateway reads it without a
    # group. Granting them anyway gave the gateway WRITE on topics never created.
    internal = [spec for spec in consumed_by(service) if spec.audience == "internal"]
    for spec in internal:
        grants += _topic(who, prefix + spec.dead_letter.name, "read", "write")
    if internal:
        grants += [Grant(who, "group", f"{prefix}{service}.", "prefixed", op) for op in ("read", "describe")]
    return sorted(set(grants))


def partner_grants(code: str, topics: Iterable[str], prefix: str = "") -> list[Grant]:
    who = partner_principal(code, prefix)
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
