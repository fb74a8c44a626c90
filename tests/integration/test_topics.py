"""Topics come from the contracts' registry, even when several services create them at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from passerelle_contracts import all_topics

from services.runtime.topics import ensure_topics

pytestmark = pytest.mark.infra


async def test_services_starting_together_create_each_topic_once_with_the_registry_partitions(
    kafka_bootstrap: str,
) -> None:
    prefix = f"race{uuid.uuid4().hex[:6]}."
    results = await asyncio.gather(*(ensure_topics(kafka_bootstrap, prefix) for _ in range(4)))
    created = [name for result in results for name in result]
    assert sorted(created) == sorted(prefix + t.name for t in all_topics()), "each topic reported created exactly once"
    assert await ensure_topics(kafka_bootstrap, prefix) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {d["topic"]: d for d in await admin.describe_topics([prefix + t.name for t in all_topics()])}
    finally:
        await admin.close()
    for spec in all_topics():
        assert len(described[prefix + spec.name]["partitions"]) == spec.partitions
