"""The Kafka topics and users of the Kubernetes manifests are the registry's and the access
model's: the committed base is what ``tools.kubernetes`` generates, every topic of the registry has
its ``KafkaTopic``, and the ACLs of every ``KafkaUser``, read back, are exactly the grants the
local broker gives the same principal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from passerelle_contracts import all_topics
from passerelle_contracts.registry import TopicSpec

from services.access.principals import (
    ADMIN,
    Grant,
    Operation,
    PatternType,
    partner_grants,
    partner_principal,
    service_grants,
    service_principal,
    services,
)
from tests.deploy.manifests import base_files, named, of_kind
from tools import kubernetes

FROM_STRIMZI: dict[str, Operation] = {v: k for k, v in kubernetes.STRIMZI_OPERATION.items()}
PATTERN_FROM_STRIMZI: dict[str, PatternType] = {v: k for k, v in kubernetes.STRIMZI_PATTERN.items()}


def base_documents() -> list[dict]:
    return [d for docs in base_files().values() for d in docs]


def grants_of(user: dict) -> set[Grant]:
    """A KafkaUser's ACL rules as the access model's grants (Strimzi's cluster resource has no name)."""
    name = user["metadata"]["name"]
    grants = set()
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert rule["host"] == "*"
        for op in rule["operations"]:
            grants.add(
                Grant(
                    name,
                    resource["type"],
                    resource.get("name", "kafka-cluster"),
                    PATTERN_FROM_STRIMZI[resource.get("patternType", "literal")],
                    FROM_STRIMZI[op],
                )
            )
    return grants


def test_the_committed_base_is_what_the_generator_writes() -> None:
    expected = kubernetes.rendered()
    committed = {
        p.relative_to(kubernetes.BASE).as_posix(): p.read_text("utf-8") for p in kubernetes.BASE.rglob("*.yaml")
    }
    assert sorted(committed) == sorted(expected), "files added or missing: run python -m tools.kubernetes write"
    stale = [name for name in expected if committed[name] != expected[name]]
    assert not stale, f"out of date: {stale} (run python -m tools.kubernetes write)"


def test_a_topic_added_to_the_registry_makes_the_check_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = TopicSpec(
        name="passerelle.surveys.v1",
        description="-",
        producer="actions",
        consumers=("dashboard",),
        key="-",
        partitions=1,
        retention_ms=-1,
    )
    monkeypatch.setattr(kubernetes, "all_topics", lambda: (*all_topics(), extra))
    assert kubernetes.main(["tools.kubernetes", "check"]) == 1
    assert "deploy/kubernetes/base/kafka-topics.yaml" in capsys.readouterr().out


def test_every_registry_topic_has_its_kafka_topic_with_three_replicas_and_two_in_sync() -> None:
    topics = of_kind(base_documents(), "KafkaTopic")
    assert sorted(t["metadata"]["name"] for t in topics) == sorted(spec.name for spec in all_topics())
    for spec in all_topics():
        topic = named(topics, "KafkaTopic", spec.name)["spec"]
        assert topic["partitions"] == spec.partitions
        assert topic["replicas"] == 3
        assert topic["config"]["min.insync.replicas"] == "2"
        assert topic["config"]["retention.ms"] == str(spec.retention_ms)
        assert topic["config"]["cleanup.policy"] == spec.cleanup_policy


def test_every_service_user_has_exactly_the_grants_of_the_local_broker() -> None:
    users = of_kind(base_documents(), "KafkaUser")
    for service in services():
        user = named(users, "KafkaUser", service_principal(service))
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert grants_of(user) == set(service_grants(service)), service


def test_every_declared_partner_reads_only_the_partner_topics_it_was_granted() -> None:
    declared = kubernetes.read_partners()
    assert declared, "deploy/kubernetes/partners.yaml declares no partner"
    users = of_kind(base_documents(), "KafkaUser")
    for code, topics in declared.items():
        user = named(users, "KafkaUser", partner_principal(code))
        grants = grants_of(user)
        assert grants == set(partner_grants(code, topics))
        assert {g.operation for g in grants} == {"read", "describe"}, "a partner never writes"


def test_the_admin_is_the_kafka_clusters_only_super_user_and_has_no_acl() -> None:
    documents = base_documents()
    admin = named(of_kind(documents, "KafkaUser"), "KafkaUser", ADMIN)
    assert "authorization" not in admin["spec"]
    cluster = of_kind(documents, "Kafka")[0]
    assert cluster["spec"]["kafka"]["authorization"] == {"type": "simple", "superUsers": [ADMIN]}


def test_a_partner_declared_with_an_internal_topic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"partners": {"caban": ["passerelle.funding.v1"]}}))
    with pytest.raises(ValueError, match=r"not partner topics: passerelle\.funding\.v1"):
        kubernetes.generate(kubernetes.read_partners(path))


def test_a_partners_file_that_is_not_a_mapping_of_lists_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text("partners:\n  - caban\n")
    with pytest.raises(ValueError, match="maps each partner code"):
        kubernetes.read_partners(path)
