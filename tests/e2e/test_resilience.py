"""Nothing lost, nothing applied twice, when a service is killed or the broker restarts in the
middle of a stream — on the local stack or with everything in containers."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from tests.e2e.conftest import call
from tests.support import eventually, produce

pytestmark = pytest.mark.infra

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "examples" / "DevicesDelivered.v1.json").read_text()
)


def actions_db(system: dict[str, Any]) -> str:
    return system["actions"].env["PASSERELLE_ACTIONS_DATABASE_URL"]


async def test_a_service_killed_mid_stream_and_restarted_loses_nothing_and_duplicates_nothing(
    system: dict[str, Any], kafka_bootstrap: str
) -> None:
    actions = system["actions"]
    topic = actions.env["PASSERELLE_TOPIC_PREFIX"] + EQUIPMENT_TOPIC
    messages = []
    for n in range(300):
        event = json.loads(json.dumps(EXAMPLE))
        event["event_id"] = str(uuid.uuid4())
        event["data"].update(
            delivery_id=str(uuid.uuid4()),
            devices={"laptop": 1 + n % 3},
            total_devices=1 + n % 3,
            donor_kind="regional-administration",
        )
        messages.append((f"delivery-{n % 5}".encode(), json.dumps(event).encode()))
    expected = sum(json.loads(v)["data"]["total_devices"] for _, v in messages)
    conn = await asyncpg.connect(actions_db(system))
    try:
        await produce(kafka_bootstrap, topic, messages)

        async def applied() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM inbox"))

        await eventually(lambda: _at_least(applied, 10), interval=0.01, what="some deliveries applied")
        actions.kill()
        at_kill = await applied()
        assert at_kill < len(messages), "the kill came after the stream ended"
        actions.start()
        await actions.wait_ready()
        await eventually(lambda: _at_least(applied, len(messages)), timeout=120, what="every delivery applied")
        assert await applied() == len(messages)
        assert await conn.fetchval(
            "SELECT count(*) FROM measurements WHERE indicator_code = 'a46-devices-pupils'"
        ) == len(messages)
        assert await conn.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'") == expected
    finally:
        await conn.close()


async def test_the_broker_restarted_mid_stream_loses_nothing_and_duplicates_nothing(
    system: dict[str, Any], broker: Any
) -> None:
    equipment, actions = system["equipment"], system["actions"]
    token = equipment.cli("create-api-key", "--organisation", "caban", "--role", "refurbisher")
    delivery = {
        "recipient": "asbl-devoirs-exemple",
        "recipient_kind": "pupils-association",
        "delivered_on": "2026-01-15",
    }
    total = 0
    for n in range(30):
        if n == 12:
            await asyncio.to_thread(
                broker.restart
            )  # the equipment service keeps taking commands: they wait in its outbox
        status, answer = call(
            equipment.url + "/deliveries",
            {**delivery, "devices": {"laptop": 1 + n % 4}},
            token,
            {"Idempotency-Key": f"restart-{n}"},
        )
        assert status == 201, answer
        total += 1 + n % 4
    if hasattr(broker, "wait_ready"):
        await broker.wait_ready()

    def indicator() -> float:
        detail = call(f"{actions.url}/actions/46")[1]
        return next(i["current_value"] for i in detail["indicators"] if i["code"] == "a46-devices-pupils")

    await eventually(lambda: indicator() == total, timeout=180, interval=0.5, what=f"all {total} devices counted")
    conn = await asyncpg.connect(actions_db(system))
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = 'a46-devices-pupils'") == 30
        )
    finally:
        await conn.close()
    await asyncio.sleep(2)
    assert indicator() == total, "nothing counted twice after the broker came back"


async def _at_least(check: Any, n: int) -> int:
    value = await check()
    return value if value >= n else 0
