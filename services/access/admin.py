"""Kafka's admin API for principals and ACLs, through confluent-kafka's ``AdminClient``.

Why confluent-kafka here when the services use aiokafka: aiokafka has no admin call for SCRAM
credentials (AlterUserScramCredentials) nor for ACLs, and librdkafka, under confluent-kafka, has
both and is Kafka's own project's C client. It runs in the admin tool and the gateway only, never
on the services' data path.

Every call blocks until the broker answered (``result()``); the gateway calls ``granted`` from a
thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from services.runtime.kafka_access import KafkaAccess

from .principals import Grant

# Kafka's minimum is 4096; 8192 costs a client a few milliseconds once per connection.
SCRAM_ITERATIONS = 8192
TIMEOUT_S = 30.0

_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATION = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "create": AclOperation.CREATE,
    "describe": AclOperation.DESCRIBE,
    "describe_configs": AclOperation.DESCRIBE_CONFIGS,
}


class AdminError(RuntimeError):
    """The broker refused or did not answer; the message says what was asked."""


def _binding(grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCE[grant.resource_type],
        grant.resource_name,
        _PATTERN[grant.pattern_type],
        f"User:{grant.principal}",
        "*",
        _OPERATION[grant.operation],
        AclPermissionType.ALLOW,
    )


def _grant(binding: AclBinding) -> Grant | None:
    """The ``Grant`` an ALLOW binding of ours is, or None (a DENY, another host, an operation we
    never grant: reported by ``Admin.grants`` callers as foreign)."""
    resources: dict[Any, str] = {v: k for k, v in _RESOURCE.items()}
    patterns: dict[Any, str] = {v: k for k, v in _PATTERN.items()}
    operations: dict[Any, str] = {v: k for k, v in _OPERATION.items()}
    resource = resources.get(binding.restype)
    pattern = patterns.get(binding.resource_pattern_type)
    operation = operations.get(binding.operation)
    if (
        resource is None
        or pattern is None
        or operation is None
        or binding.permission_type != AclPermissionType.ALLOW
        or binding.host != "*"
        or not binding.principal.startswith("User:")
    ):
        return None
    return Grant(binding.principal.removeprefix("User:"), resource, binding.name, pattern, operation)  # type: ignore[arg-type] # looked up above


class Admin:
    """One admin client, as the deployment's admin principal."""

    def __init__(self, access: KafkaAccess) -> None:
        config: dict[str, Any] = access.librdkafka() | {"client.id": "passerelle-access"}
        self._client = AdminClient(config)

    @staticmethod
    def _wait(futures: dict[Any, Any], what: str) -> list[Any]:
        results = []
        for key, future in futures.items():
            try:
                results.append(future.result(timeout=TIMEOUT_S))
            except KafkaException as error:
                raise AdminError(f"{what} ({key}): {error.args[0].str()}") from None
        return results

    # --- SCRAM credentials --------------------------------------------------------------------

    def set_password(self, user: str, password: str) -> None:
        """Create the user's SCRAM-SHA-512 credential, or replace it (the old password stops
        working at once: connections already open stay open until they reconnect)."""
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upsert = UserScramCredentialUpsertion(user, info, password.encode())
        self._wait(self._client.alter_user_scram_credentials([upsert]), f"setting the password of {user}")

    def lock_out(self, user: str) -> None:
        """Make the user's password one nobody knows (the credential stays).

        Not a deletion: Kafka 4.1.1's brokers, replaying the metadata log at a restart, drop
        *every* SCRAM credential (the admin's included) when a deletion comes first in the
        change set they apply (``ScramDelta.apply`` tests for an empty mechanism inside its
        loop; reproduced every time here). A random password of 256 bits locks the user out as
        surely, and an offboarded partner's name stays taken, which an audit wants anyway."""
        self.set_password(user, secrets.token_urlsafe(32))

    def users(self) -> set[str]:
        """Every user with a SCRAM credential."""
        try:
            # Without users named, one future for all of them (the stubs also allow a dict).
            everyone: Any = self._client.describe_user_scram_credentials()
            described = everyone.result(timeout=TIMEOUT_S)
        except KafkaException as error:
            raise AdminError(f"listing users: {error.args[0].str()}") from None
        return set(described)

    # --- ACLs ---------------------------------------------------------------------------------

    def grants(self, principal: str | None = None) -> set[Grant]:
        """The ALLOW ACLs the broker holds (of one principal if given), as grants."""
        anything: Any = None  # a filter's "any name, any host" (the stubs say str)
        wanted = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            f"User:{principal}" if principal else anything,
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        try:
            bindings = self._client.describe_acls(wanted).result(timeout=TIMEOUT_S)
        except KafkaException as error:
            raise AdminError(f"describing the ACLs: {error.args[0].str()}") from None
        return {g for g in (_grant(b) for b in bindings) if g is not None}

    def add(self, grants: Iterable[Grant]) -> None:
        """Create ACLs (creating one that exists is a no-op on the broker)."""
        bindings = [_binding(g) for g in grants]
        if bindings:
            self._wait(self._client.create_acls(bindings), "creating ACLs")

    def remove(self, grants: Iterable[Grant]) -> None:
        filters = [
            AclBindingFilter(
                _RESOURCE[g.resource_type],
                g.resource_name,
                _PATTERN[g.pattern_type],
                f"User:{g.principal}",
                "*",
                _OPERATION[g.operation],
                AclPermissionType.ALLOW,
            )
            for g in grants
        ]
        if filters:
            self._wait(self._client.delete_acls(filters), "deleting ACLs")

    def converge(self, principal: str, wanted: Iterable[Grant]) -> tuple[set[Grant], set[Grant]]:
        """Make the principal's ACLs exactly ``wanted``; returns (added, removed)."""
        wanted = set(wanted)
        held = self.grants(principal)
        added, removed = wanted - held, held - wanted
        self.add(added)
        self.remove(removed)
        return added, removed
