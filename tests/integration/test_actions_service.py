"""The actions service in process, against the real database and broker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from passerelle_contracts.actions_v1 import TOPIC
from passerelle_contracts.equipment_v1 import TOPIC as EQUIPMENT_TOPIC

from services.actions.handlers.plan import LoadPlan, load_plan, read_seed
from services.runtime.uow import Context
from tests.conftest import CreateDatabase
from tests.integration.conftest import ActionsUnderTest, running_actions
from tests.support import PrivateKafka, envelopes, eventually, produce, read_topic

pytestmark = pytest.mark.infra

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"


async def test_the_plan_is_loaded_once_and_announced_once(actions: ActionsUnderTest, kafka_bootstrap: str) -> None:
    pool = actions.runtime.pool
    assert await pool.fetchval("SELECT count(*) FROM actions") == 66
    assert await pool.fetchval("SELECT count(*) FROM chantiers") == 17
    plan, indicators = read_seed()
    again = actions.runtime.unit_of_work(Context.system())
    assert await load_plan(again, LoadPlan(plan, indicators)) == [], "a second load adds nothing"
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic NOT LIKE '%partners.%' AND event_type = 'ActionRegistered'"
        )
        == 66
    )


async def test_organisations_are_listed_with_their_governance_membership(actions: ActionsUnderTest) -> None:
    organisations = {o["code"]: o for o in (await actions.client.get("/organisations")).json()}
    assert organisations["coordination-inclusion-numerique"]["working_group"] is True
    assert organisations["coordination-inclusion-numerique"]["copil"] is True
    assert organisations["caban"]["copil"] is True
    assert sum(o["copil"] for o in organisations.values()) == 6


async def test_listing_filters_by_axis_organisation_and_public(actions: ActionsUnderTest) -> None:
    axis4 = (await actions.client.get("/actions", params={"axis": 4})).json()
    assert [a["number"] for a in axis4] == list(range(38, 67))
    seniors = (await actions.client.get("/actions", params={"public": "seniors"})).json()
    assert {49, 50, 51, 52} <= {a["number"] for a in seniors}
    caban = (await actions.client.get("/actions", params={"organisation": "caban"})).json()
    assert 36 in {a["number"] for a in caban}


async def test_an_operator_changes_a_status_and_an_event_with_old_and_new_values_is_published(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    correlation = str(uuid.uuid4())
    response = await actions.client.post(
        "/actions/21/status",
        json={"status": "in_progress", "traffic_light": "on_track", "note": "Première réunion le 12 mars"},
        headers={**headers, "X-Correlation-ID": correlation},
    )
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    detail = (await actions.client.get("/actions/21")).json()
    assert detail["status"] == "in_progress"
    history = (await actions.client.get("/actions/21/history", headers=headers)).json()
    assert history[-1]["changes"][0] == {"field": "status", "old": "not_started", "new": "in_progress"}
    assert history[-1]["actor"]["organisation"] == "coordination-inclusion-numerique"

    topic = actions.runtime.topic(TOPIC)

    async def published() -> list[dict]:
        return [e for e in envelopes(await read_topic(kafka_bootstrap, topic)) if e["event_id"] == event_id]

    [event] = await eventually(published, what="ActionStatusChanged on the topic")
    assert event["correlation_id"] == correlation
    assert event["subject"] == "action-21"
    assert event["actor"]["role"] == "coordination"
    assert {"field": "traffic_light", "old": None, "new": "on_track"} in event["data"]["changes"]


@pytest.mark.parametrize(
    ("path", "body", "role", "status", "error"),
    [
        ("/actions/99/status", {"status": "planned"}, "coordination", 422, "invalid-request"),  # the plan has 66
        (f"/reports/{uuid.uuid4()}/submit", {}, "coordination", 404, "not-found"),
        ("/actions/5/status", {"status": "completed"}, "coordination", 409, "invalid-transition"),
        ("/actions/5/status", {"status": "finished"}, "coordination", 422, "invalid-request"),
        ("/actions/5/status", {"status": "planned"}, "partner", 403, "forbidden"),
        ("/actions/38/status", {"status": "planned"}, "owner", 403, "forbidden"),
    ],
)
async def test_bad_requests_get_a_status_and_a_reason(
    actions: ActionsUnderTest, path: str, body: dict, role: str, status: int, error: str
) -> None:
    headers = await actions.key("coordination-inclusion-numerique", role)
    response = await actions.client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["reason"]


async def test_a_write_without_a_valid_key_is_refused(actions: ActionsUnderTest) -> None:
    assert (await actions.client.post("/actions/5/status", json={"status": "planned"})).status_code == 401
    bogus = {"Authorization": "Bearer psk_000000000000_nope"}
    response = await actions.client.post("/actions/5/status", json={"status": "planned"}, headers=bogus)
    assert response.status_code == 401
    assert response.json()["reason"] == "unknown or revoked API key"


async def test_an_owner_updates_its_own_action(actions: ActionsUnderTest) -> None:
    headers = await actions.key("bruxelles-formation", "owner")
    response = await actions.client.post("/actions/38/status", json={"status": "planned"}, headers=headers)
    assert response.status_code == 200, response.text


async def test_ready_reports_database_broker_and_relay_and_nothing_degraded(actions: ActionsUnderTest) -> None:
    async def ready() -> dict[str, Any]:
        response = await actions.client.get("/ready")
        assert response.status_code == 200
        return dict(response.json())

    state = await eventually(lambda: _leading(ready()), what="the relay leading")
    assert state == {"status": "ready", "database": "ok", "broker": "ok", "relay": "leader", "degraded": []}


async def _leading(state: Any) -> dict[str, Any] | None:
    answered = await state
    return answered if answered.get("relay") == "leader" else None


async def test_a_service_whose_broker_is_down_still_accepts_work_and_says_what_is_degraded(
    create_database: CreateDatabase, own_kafka: PrivateKafka, topic_prefix: str
) -> None:
    """The outbox lets commands commit while the broker is away: the service is ready, degraded."""
    own_kafka.start_now()
    async with running_actions(await create_database("ready"), own_kafka.access, topic_prefix) as actions:
        headers = await actions.key("coordination-inclusion-numerique", "coordination")
        own_kafka.stop_now()
        response = await actions.client.get("/ready")
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["database"], body["broker"], body["degraded"]) == (
            "degraded",
            "ok",
            "unavailable",
            ["broker"],
        )
        changed = await actions.client.post("/actions/46/status", json={"status": "planned"}, headers=headers)
        assert changed.status_code == 200, "a command commits; its event waits in the outbox"
        assert (await actions.client.get("/ops/outbox", headers=headers)).json()["pending"] >= 1


async def test_a_schema_invalid_message_is_dead_lettered_while_the_next_valid_one_is_processed(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    topic = actions.runtime.topic(EQUIPMENT_TOPIC)
    valid = json.loads((EXAMPLES / "DevicesDelivered.v1.json").read_text("utf-8"))
    valid["event_id"] = str(uuid.uuid4())
    invalid = json.loads(json.dumps(valid))
    invalid["event_id"] = str(uuid.uuid4())
    invalid["data"]["recipient_kind"] = "a-school-we-do-not-know"
    await produce(
        kafka_bootstrap,
        topic,
        [(b"delivery-bad", json.dumps(invalid).encode()), (b"delivery-bad", json.dumps(valid).encode())],
    )
    pool = actions.runtime.pool
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(valid["event_id"])),
        what="the valid message processed",
    )
    value = await pool.fetchval("SELECT current_value FROM indicators WHERE code = 'a46-devices-pupils'")
    assert value == valid["data"]["total_devices"]

    dead = [
        r
        for r in await read_topic(kafka_bootstrap, topic + ".dlq")
        if json.loads(r.value)["event_id"] == invalid["event_id"]
    ]
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["x-dlq-reason"] == "invalid-data"
    assert "recipient_kind" in headers["x-dlq-error"]
    assert headers["x-dlq-consumer"] == "indicators"
    assert headers["x-dlq-original-topic"] == topic
    assert dead[0].key == b"delivery-bad"
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(invalid["event_id"])) == 0

    metrics = (await actions.client.get("/metrics")).text
    counted = 'passerelle_events_consumed_total{consumer="indicators",event_type="DevicesDelivered",outcome="%s"} 1.0'
    assert counted % "processed" in metrics
    assert counted % "dead-lettered" in metrics
    assert f'passerelle_dead_letters_total{{reason="invalid-data",topic="{topic}"}} 1.0' in metrics


async def test_metrics_describe_the_service_and_its_outbox_as_ops_outbox_does(actions: ActionsUnderTest) -> None:
    response = await actions.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    operator = await actions.key("coordination-inclusion-numerique", "operator")
    backlog = (await actions.client.get("/ops/outbox", headers=operator)).json()
    samples = dict(line.rsplit(" ", 1) for line in response.text.splitlines() if line and not line.startswith("#"))
    assert samples['passerelle_service_info{service="actions"}'] == "1.0"
    assert float(samples["passerelle_outbox_parked"]) == backlog["parked"] == 0
    assert float(samples["passerelle_outbox_relay_leader"]) in (0.0, 1.0)
    assert "passerelle_outbox_pending" in samples and "passerelle_outbox_oldest_age_seconds" in samples
