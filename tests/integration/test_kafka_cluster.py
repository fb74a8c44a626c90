"""Three Kafka brokers, one SIGKILLed in the middle of a stream and started again later: every
event is published once and applied once (issue 9, "Kafka cluster").

The cluster is private (tools.kafka_cluster: three broker+controller nodes on free ports, a
3-voter KRaft quorum, internal topics with 3 replicas and min ISR 2), so killing a node disturbs
nobody. The equipment service takes delivery commands over HTTP and publishes DevicesDelivered
through its outbox; the actions service consumes them and counts the devices. Both run in this
process, with topic_replication_factor=3 and topic_min_insync_replicas=2.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from passerelle_contracts import all_topics
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from services.runtime.kafka_access import KafkaAccess
from services.runtime.topics import check_topics
from tests.conftest import CreateDatabase
from tests.integration.conftest import running_service
from tests.support import eventually, kafka, read_topic
from tools.kafka_cluster import KafkaCluster

pytestmark = pytest.mark.infra

EVENTS = 200
KILL_AT = 50  # the broker dies after this many commands...
RESTART_AT = 120  # ...and started again from here on, once its partitions have moved (it takes
# a few seconds to come back, while the stream goes on)
PAUSE_S = 0.03  # between two commands: the stream lasts long enough to span the outage
INDICATOR = "a46-devices-pupils"  # what the actions service counts for these deliveries
REPLICATION = {"topic_replication_factor": 3, "topic_min_insync_replicas": 2}


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[KafkaCluster]:
    cluster = KafkaCluster(tmp_path / "kafka-cluster")
    try:
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)


@contextlib.asynccontextmanager
async def equipment_and_actions(
    bootstrap: str | KafkaAccess, create_database: CreateDatabase
) -> AsyncIterator[tuple[Any, Any]]:
    from services.actions.app import create_app as create_actions
    from services.actions.settings import ActionsSettings
    from services.equipment.app import create_app as create_equipment
    from services.equipment.settings import EquipmentSettings

    common: dict[str, Any] = {
        **kafka(bootstrap).settings(),
        "topic_prefix": f"c{uuid.uuid4().hex[:6]}.",  # one prefix: actions reads equipment's topic
        "http_port": 0,
        "outbox_poll_interval_s": 0.2,
        **REPLICATION,
    }
    equipment_settings = EquipmentSettings(database_url=await create_database("cl_equipment"), **common)
    actions_settings = ActionsSettings(
        database_url=await create_database("cl_actions"), consumer_backoff_initial_s=0.01, **common
    )
    async with (
        running_service(create_equipment, equipment_settings, "http://equipment") as equipment,
        running_service(create_actions, actions_settings, "http://actions") as actions,
    ):
        yield equipment, actions


async def describe(bootstrap: str | KafkaAccess, topics: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The topics' partitions (leader, replicas, isr). The admin client sends to a node its
    metadata names, which may be the one just killed: asked again until a live node answers."""
    for attempt in range(50):
        admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka(), request_timeout_ms=5000)
        try:
            await admin.start()
            return {d["topic"]: d["partitions"] for d in await admin.describe_topics(topics)}
        except KafkaError:
            if attempt == 49:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


async def min_insync_replicas(bootstrap: str | KafkaAccess, topics: list[str]) -> dict[str, str | None]:
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka(), request_timeout_ms=5000)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    return {
        resource[3]: dict((entry[0], entry[1]) for entry in resource[4]).get("min.insync.replicas")
        for response in responses
        for resource in response.resources
    }


async def test_a_broker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    cluster: KafkaCluster, create_database: CreateDatabase
) -> None:
    bootstrap = cluster.access
    async with equipment_and_actions(bootstrap, create_database) as (equipment, actions):
        prefix = equipment.settings.topic_prefix
        topic = prefix + EQUIPMENT_TOPIC

        # The topics the services created: 3 replicas, min.insync.replicas 2.
        assert await check_topics(kafka(bootstrap), prefix, replication_factor=3, min_insync_replicas=2) == []
        ours = sorted(t for t in await list_topics(bootstrap) if t.startswith(prefix))
        assert len(ours) == len(all_topics()), ours
        layout = await describe(bootstrap, ours)
        assert {len(p["replicas"]) for partitions in layout.values() for p in partitions} == {3}
        assert set((await min_insync_replicas(bootstrap, ours)).values()) == {"2"}

        token = await equipment.key("caban", "refurbisher")
        delivery = {
            "recipient": "asbl-devoirs-exemple",
            "recipient_kind": "pupils-association",
            "delivered_on": "2026-01-15",
        }
        stream_started = time.monotonic()
        killed_at = restarted_at = 0.0
        leaders_moved_s: float | None = None
        victim = 0
        restart: asyncio.Task[None] | None = None

        async def watch_leaders() -> None:
            nonlocal leaders_moved_s
            while True:
                partitions = (await describe(bootstrap, [topic]))[topic]
                if all(p["leader"] not in (victim, -1) for p in partitions):
                    leaders_moved_s = time.monotonic() - killed_at
                    return
                await asyncio.sleep(0.1)

        watcher: asyncio.Task[None] | None = None
        total = 0
        for n in range(EVENTS):
            if n == KILL_AT:
                # The leader of the partition 0 of the events' topic: its partitions must move.
                victim = next(p["leader"] for p in (await describe(bootstrap, [topic]))[topic] if p["partition"] == 0)
                killed_at = time.monotonic()
                await asyncio.to_thread(cluster.kill, victim)
                watcher = asyncio.create_task(watch_leaders())
            if restart is None and n >= RESTART_AT and watcher is not None and watcher.done():
                # Once the killed broker's partitions have moved: the outage is over for the clients.
                restarted_at = time.monotonic()
                restart = asyncio.create_task(asyncio.to_thread(cluster.start_node, victim))
            answer = await equipment.client.post(
                "/deliveries",
                json={**delivery, "devices": {"laptop": 1 + n % 4}},
                headers={**token, "Idempotency-Key": f"cluster-{n}"},
            )
            assert answer.status_code == 201, answer.text  # commands never wait for the broker
            total += 1 + n % 4
            await asyncio.sleep(PAUSE_S)
        assert watcher is not None
        await asyncio.wait_for(watcher, timeout=30)
        if restart is None:  # the stream ended before the partitions moved
            restarted_at = time.monotonic()
            restart = asyncio.create_task(asyncio.to_thread(cluster.start_node, victim))
        await restart
        restart_took_s = time.monotonic() - restarted_at

        async def isr_full() -> bool:
            return all(len(p["isr"]) == 3 for p in (await describe(bootstrap, [topic]))[topic])

        await eventually(isr_full, timeout=60, interval=0.2, what="every replica back in sync")
        isr_full_s = time.monotonic() - restarted_at

        async def applied() -> int:
            return int(await actions.runtime.pool.fetchval("SELECT count(*) FROM inbox WHERE topic = $1", topic))

        await eventually(lambda: _equals(applied, EVENTS), timeout=60, interval=0.2, what="every delivery applied")
        drained_s = time.monotonic() - killed_at
        # The consumer offsets (created by the broker at the first commit) have 3 replicas too.
        offsets = (await describe(bootstrap, ["__consumer_offsets"]))["__consumer_offsets"]
        assert offsets and {len(p["replicas"]) for p in offsets} == {3}

        outbox = await equipment.runtime.pool.fetch(
            "SELECT event_id, created_at, published_at FROM outbox WHERE topic = $1", topic
        )
        assert len(outbox) == EVENTS and all(r["published_at"] is not None for r in outbox)
        sent = {str(r["event_id"]) for r in outbox}
        on_topic = Counter(json.loads(r.value)["event_id"] for r in await read_topic(bootstrap, topic, timeout=20))
        lost = len(sent - set(on_topic))
        duplicated = sum(count - 1 for count in on_topic.values())
        pool = actions.runtime.pool
        inbox = await pool.fetchval("SELECT count(DISTINCT event_id) FROM inbox WHERE topic = $1", topic)
        measurements = await pool.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = $1", INDICATOR)
        counted = await pool.fetchval("SELECT current_value FROM indicators WHERE code = $1", INDICATOR)
        # How long events waited in the outbox: the broker's loss shows as the longest wait.
        latency = sorted((r["published_at"] - r["created_at"]).total_seconds() for r in outbox)

        print(
            f"\nkafka cluster: events={EVENTS} lost={lost} duplicated={duplicated} applied={inbox} "
            f"broker killed=node {victim} at event {KILL_AT}; partitions had new leaders in {leaders_moved_s:.1f}s; "
            f"longest outbox wait {latency[-1]:.1f}s (median {latency[len(latency) // 2]:.2f}s); "
            f"node back in {restart_took_s:.1f}s, replicas in sync {isr_full_s:.1f}s after its restart; "
            f"all applied {drained_s:.1f}s after the kill; stream {time.monotonic() - stream_started:.1f}s"
        )
        assert lost == 0 and set(on_topic) == sent, "every outbox row is on the topic"
        assert duplicated == 0, f"records published twice: {[e for e, c in on_topic.items() if c > 1]}"
        assert inbox == EVENTS and measurements == EVENTS, "each event applied once"
        assert counted == total, "no device counted twice"


async def list_topics(bootstrap: str | KafkaAccess) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka(bootstrap).aiokafka(), request_timeout_ms=5000)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def _equals(check: Any, n: int) -> bool:
    return bool(await check() == n)
