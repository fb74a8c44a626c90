"""A consumer killed with SIGKILL in the middle of a stream loses nothing and applies nothing twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from passerelle_contracts.actions_v1 import TOPIC as ACTIONS_TOPIC
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from tests.conftest import CreateDatabase
from tests.support import ServiceProcess, envelopes, eventually, free_port, kafka, produce, read_topic

pytestmark = pytest.mark.infra

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text()
)
EVENTS = 400


def deliveries() -> list[tuple[bytes, bytes]]:
    messages = []
    for n in range(EVENTS):
        event = json.loads(json.dumps(EXAMPLE))
        event["event_id"] = str(uuid.uuid4())
        event["data"]["delivery_id"] = str(uuid.uuid4())
        event["data"]["devices"] = {"laptop": 1 + n % 5}
        event["data"]["total_devices"] = 1 + n % 5
        event["data"]["donor_kind"] = "regional-administration"
        messages.append((f"delivery-{n % 7}".encode(), json.dumps(event).encode()))
    return messages


async def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    dsn = await create_database("crash")
    service = ServiceProcess(
        "actions",
        {
            "PASSERELLE_ACTIONS_DATABASE_URL": dsn,
            "PASSERELLE_ACTIONS_HTTP_PORT": str(free_port()),
            "PASSERELLE_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "PASSERELLE_TOPIC_PREFIX": topic_prefix + "crash.",
        },
        tmp_path,
    )
    from services.runtime.topics import ensure_topics

    await ensure_topics(kafka(kafka_bootstrap), topic_prefix + "crash.")
    messages = deliveries()
    expected_total = sum(json.loads(v)["data"]["total_devices"] for _, v in messages)
    conn = await asyncpg.connect(dsn)
    try:
        service.start()
        await service.wait_ready()
        await produce(kafka_bootstrap, topic_prefix + "crash." + EQUIPMENT_TOPIC, messages)

        async def applied() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM inbox"))

        in_flight = await eventually(lambda: _at_least(applied, 20), interval=0.01, what="some events applied")
        service.kill()
        at_kill = await applied()
        assert at_kill < EVENTS, f"the kill came too late to test anything ({at_kill} applied)"

        service.start()
        await service.wait_ready()
        await eventually(lambda: _at_least(applied, EVENTS), timeout=120, what="every event applied")

        assert await applied() == EVENTS
        assert (
            await conn.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = 'a46-devices-pupils'")
            == EVENTS
        )
        value = await conn.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'")
        assert value == expected_total
        assert await conn.fetchval("SELECT sum(delta) FROM measurements") == expected_total

        topic = topic_prefix + "crash." + ACTIONS_TOPIC

        async def measured() -> set[str]:
            events = envelopes(await read_topic(kafka_bootstrap, topic, timeout=5))
            ids = {e["data"]["source_event_id"] for e in events if e["event_type"] == "IndicatorMeasured"}
            return ids if len(ids) == EVENTS else set()

        published = await eventually(measured, timeout=60, interval=0.5, what="one IndicatorMeasured per delivery")
        assert published == {json.loads(v)["event_id"] for _, v in messages}
        print(f"killed after {in_flight}+ of {EVENTS} events; {at_kill} were committed at the kill")
    finally:
        service.stop()
        await conn.close()


async def _at_least(check: Callable[[], Awaitable[int]], n: int) -> int:
    value = await check()
    return value if value >= n else 0
