"""Topics come from the contracts' registry, even when several services create them at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from passerelle_contracts import all_topics

from services.runtime.topics import check_topics, ensure_topics
from tests.support import kafka

pytestmark = pytest.mark.infra


async def test_services_starting_together_create_each_topic_once_with_the_registry_partitions(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}race{uuid.uuid4().hex[:6]}."
    results = await asyncio.gather(*(ensure_topics(kafka(kafka_bootstrap), prefix) for _ in range(4)))
    created = [name for result in results for name in result]
    assert sorted(created) == sorted(prefix + t.name for t in all_topics()), "each topic reported created exactly once"
    assert await ensure_topics(kafka(kafka_bootstrap), prefix) == []
    admin = AIOKafkaAdminClient(**kafka(kafka_bootstrap).aiokafka())
    await admin.start()
    try:
        described = {d["topic"]: d for d in await admin.describe_topics([prefix + t.name for t in all_topics()])}
    finally:
        await admin.close()
    for spec in all_topics():
        assert len(described[prefix + spec.name]["partitions"]) == spec.partitions


async def describe_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka())
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    return {entry[0]: entry[1] for entry in entries}


async def test_topics_are_created_with_the_replication_and_in_sync_replicas_asked(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}isr{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka(kafka_bootstrap), prefix, replication_factor=1, min_insync_replicas=1)
    config = await describe_config(kafka_bootstrap, prefix + "passerelle.funding.v1")
    assert config["min.insync.replicas"] == "1"
    assert config["retention.ms"] == "-1", "the registry's retention: kept for ever"
    dead = await describe_config(kafka_bootstrap, prefix + "passerelle.funding.v1.dlq")
    assert dead["retention.ms"] == str(90 * 24 * 3600 * 1000)


async def test_an_existing_topic_that_differs_from_the_registry_is_reported(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}drift{uuid.uuid4().hex[:6]}."
    name = prefix + "passerelle.funding.v1"
    admin = AIOKafkaAdminClient(**kafka(kafka_bootstrap).aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": "86400000"})])
    finally:
        await admin.close()
    await ensure_topics(kafka(kafka_bootstrap), prefix)
    assert await check_topics(kafka(kafka_bootstrap), prefix) == [
        f"{name}: 1 partitions, the registry says 3 (key order holds only within a partition: add them by hand)",
        f"{name}: retention.ms is 86400000, the registry says -1",
    ]
