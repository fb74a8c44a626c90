"""Progress, milestones, reports, indicators and governance of the actions service, in process,
against the real database and broker."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from passerelle_contracts import SYSTEM_ACTOR, Actor, Envelope, EventData
from passerelle_contracts.actions_v1 import TOPIC
from passerelle_contracts.common import LabelStatus
from passerelle_contracts.funding_v1 import TOPIC as FUNDING_TOPIC
from passerelle_contracts.funding_v1 import CadastreCoverageChanged, EpnLabelled, EpnLabelStatusChanged, GrantAwarded

from services.actions.app import MIGRATIONS
from services.actions.handlers.milestones import AnnounceOverdue, announce_overdue
from services.actions.handlers.plan import read_seed
from services.actions.sql import ActionsRepository
from services.runtime import db
from services.runtime.uow import Context
from tests.conftest import CreateDatabase
from tests.integration.conftest import ActionsUnderTest, running_actions
from tests.support import envelopes, eventually, produce, read_topic

pytestmark = pytest.mark.infra


def migrations_from(number: int) -> list[str]:
    """The names of the service's migrations from ``number`` on, as ``db.migrate`` reports them."""
    return [f"actions/{p.stem}" for p in sorted(MIGRATIONS.glob("*.sql")) if int(p.name[:4]) >= number]


async def outbox_types(actions: ActionsUnderTest, number: int) -> list[str]:
    rows = await actions.runtime.pool.fetch(
        "SELECT event_type FROM outbox WHERE topic NOT LIKE '%partners.%' AND message_key = $1 ORDER BY id",
        f"action-{number}",
    )
    return [r["event_type"] for r in rows]


async def check_overdue(actions: ActionsUnderTest, as_of: date) -> list[Envelope]:
    """The scheduled check, as the service runs it."""
    return await announce_overdue(actions.runtime.unit_of_work(Context.system()), AnnounceOverdue(as_of))


async def test_progress_rolls_up_to_chantier_and_axis_by_weight(actions: ActionsUnderTest) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    client = actions.client
    assert (await client.post("/actions/29/progress", json={"progress": 80}, headers=coordination)).json()["changed"]
    assert (await client.patch("/actions/29", json={"weight": 3}, headers=coordination)).status_code == 200
    assert (await client.post("/actions/30/progress", json={"progress": 40}, headers=coordination)).status_code == 200
    rollup = (await client.get("/rollup")).json()
    assert rollup["rule"]["name"] == "weighted-average"
    axis3 = next(a for a in rollup["axes"] if a["number"] == 3)
    chantier7 = next(c for c in axis3["chantiers"] if c["number"] == 7)
    assert chantier7["progress"] == pytest.approx((80 * 3 + 40 * 1) / 4, abs=0.01)
    assert {a["number"]: a["weight"] for a in chantier7["actions"]} == {29: 3.0, 30: 1.0}
    assert axis3["progress"] == pytest.approx(
        (80 * 3 + 40) / (3 + 8), abs=0.01
    )  # 9 actions in axis 3, weights 3 + 8 x 1
    again = await client.post("/actions/29/progress", json={"progress": 80}, headers=coordination)
    assert again.json() == {"event_id": None, "changed": False}
    assert (await client.post("/actions/29/progress", json={"progress": 120}, headers=coordination)).status_code == 422
    assert "ActionProgressUpdated" in await outbox_types(actions, 29)


async def test_milestones_drive_progress_and_an_overdue_one_is_announced_once(actions: ActionsUnderTest) -> None:
    owner = await actions.key("coordination-inclusion-numerique", "owner")
    client = actions.client
    first = (
        await client.post(
            "/actions/46/milestones", json={"title_fr": "Convention signée", "planned_on": "2024-03-31"}, headers=owner
        )
    ).json()
    second = (
        await client.post(
            "/actions/46/milestones", json={"title_fr": "Premier lot livré", "planned_on": "2024-09-30"}, headers=owner
        )
    ).json()
    response = await client.post("/actions/46/progress", json={"mode": "milestones"}, headers=owner)
    assert response.status_code == 200, response.text
    reached = await client.post(
        f"/actions/46/milestones/{first['id']}/reached", json={"reached_on": "2024-03-28"}, headers=owner
    )
    assert reached.status_code == 200, reached.text
    detail = (await client.get("/actions/46")).json()
    assert (detail["progress"], detail["progress_mode"]) == (50.0, "milestones")
    again = await client.post(
        f"/actions/46/milestones/{first['id']}/reached", json={"reached_on": "2024-03-29"}, headers=owner
    )
    assert again.status_code == 409

    assert [e.data["milestone_id"] for e in await check_overdue(actions, date(2024, 10, 3))] == [second["id"]]
    assert await check_overdue(actions, date(2024, 10, 4)) == [], "announced once"
    replanned = await client.put(
        f"/actions/46/milestones/{second['id']}",
        json={"title_fr": "Premier lot livré", "planned_on": "2024-12-15"},
        headers=owner,
    )
    assert replanned.status_code == 200
    assert await check_overdue(actions, date(2024, 12, 1)) == []
    [overdue] = await check_overdue(actions, date(2024, 12, 20))
    assert overdue.data["days_overdue"] == 5
    assert await outbox_types(actions, 46) == [
        "ActionRegistered",
        "IndicatorDefined",
        "MilestonePlanned",
        "MilestonePlanned",
        "ActionProgressUpdated",
        "MilestoneReached",
        "ActionProgressUpdated",
        "MilestoneOverdue",
        "MilestonePlanned",
        "MilestoneOverdue",
    ]


async def test_a_report_goes_from_draft_to_approved_through_a_return(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    owner = await actions.key("bruxelles-formation", "owner")
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    client = actions.client
    report = (await client.put("/actions/38/reports/2024", json={"body": "Trois sessions."}, headers=owner)).json()
    assert report["status"] == "draft"
    rid = report["id"]
    assert (await client.post(f"/reports/{rid}/approve", headers=coordination)).status_code == 409, (
        "a draft is not approved"
    )
    assert (await client.post(f"/reports/{rid}/submit", headers=owner)).json()["status"] == "submitted"
    assert (await client.put("/actions/38/reports/2024", json={"body": "x"}, headers=owner)).status_code == 409
    assert (await client.post(f"/reports/{rid}/approve", headers=owner)).status_code == 403
    assert (await client.post(f"/reports/{rid}/return", json={"comment": " "}, headers=coordination)).status_code == 409
    returned = await client.post(
        f"/reports/{rid}/return", json={"comment": "Ajoutez le nombre de participants."}, headers=coordination
    )
    assert returned.json()["status"] == "returned"
    await client.put("/actions/38/reports/2024", json={"body": "Trois sessions, 48 participants."}, headers=owner)
    await client.post(f"/reports/{rid}/submit", headers=owner)
    approved = (await client.post(f"/reports/{rid}/approve", headers=coordination)).json()
    assert (approved["status"], approved["body"]) == ("approved", "Trois sessions, 48 participants.")
    assert (await client.get("/reports", params={"action": 38})).status_code == 401, "reports are read with a key"
    partner = await actions.key("caban", "partner")
    [listed] = (await client.get("/reports", params={"action": 38}, headers=partner)).json()
    assert listed["status"] == "approved"
    assert await outbox_types(actions, 38) == [
        "ActionRegistered",
        "ReportSubmitted",
        "ReportReturned",
        "ReportSubmitted",
        "ReportApproved",
    ]
    topic = actions.runtime.topic(TOPIC)

    async def returned_event() -> list[dict]:
        return [
            e
            for e in envelopes(await read_topic(kafka_bootstrap, topic))
            if e["event_type"] == "ReportReturned" and e["data"]["report_id"] == rid
        ]

    [event] = await eventually(returned_event, what="ReportReturned published")
    assert {"field": "comment", "old": "", "new": "Ajoutez le nombre de participants."} in event["data"]["changes"]


async def test_working_group_meetings_count_for_action_21_per_year(actions: ActionsUnderTest) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    client = actions.client
    meeting = {
        "kind": "working_group",
        "held_on": "2024-03-12",
        "attendees": ["coordination-inclusion-numerique", "easy-brussels", "caban"],
        "agenda": [{"action_number": 46, "title": "Matériel déclassé"}],
        "decisions": [{"action_number": 46, "decision": "Lancer l'appel aux administrations."}],
    }
    assert (await client.post("/meetings", json=meeting, headers=coordination)).status_code == 201
    assert (
        await client.post("/meetings", json={**meeting, "held_on": "2024-06-18", "decisions": []}, headers=coordination)
    ).status_code == 201
    assert (
        await client.post(
            "/meetings",
            json={**meeting, "kind": "copil", "held_on": "2024-07-01", "decisions": []},
            headers=coordination,
        )
    ).status_code == 201
    assert (
        await client.post("/meetings", json={**meeting, "held_on": "2025-01-20", "decisions": []}, headers=coordination)
    ).status_code == 201
    values = [
        float(m["value"])
        for m in (await client.get("/indicators/a21-working-group-meetings/measurements", headers=coordination)).json()
    ]
    assert values == [1, 2, 1], "the COPIL does not count; the count restarts in 2025"
    history = (await client.get("/actions/46/history", headers=coordination)).json()
    assert history[-1]["event_type"] == "DecisionRecorded"
    unknown = await client.post("/meetings", json={**meeting, "attendees": ["nobody"]}, headers=coordination)
    assert unknown.status_code == 422 and "nobody" in unknown.json()["reason"]
    meetings = (await client.get("/meetings", params={"year": 2024}, headers=coordination)).json()
    assert meetings[0]["decisions"][0]["action_number"] == 46


async def test_what_changed_since_a_date_is_grouped_by_action(actions: ActionsUnderTest) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    client = actions.client
    since = datetime.now(UTC).isoformat()
    await client.post("/actions/12/status", json={"status": "planned"}, headers=coordination)
    await client.post(
        "/actions/12/status", json={"status": "in_progress", "traffic_light": "at_risk"}, headers=coordination
    )
    await client.post("/actions/3/status", json={"status": "planned"}, headers=coordination)
    changes = (await client.get("/changes", params={"since": since}, headers=coordination)).json()
    assert [c["action_number"] for c in changes] == [3, 12]
    assert [c["changes"][0]["new"] for c in changes[1]["changes"]] == ["planned", "in_progress"]


async def test_indicators_are_defined_and_measured_by_hand_once_per_external_id(actions: ActionsUnderTest) -> None:
    owner = await actions.key("coordination-inclusion-numerique", "owner")
    client = actions.client
    # An indicator no event feeds: a11-epn-labelled follows EpnLabelStatusChanged and refuses figures typed by hand.
    definition = {"name_fr": "EPN labellisés", "unit": "EPN", "baseline": 29, "target": 40, "period": "2021-2024"}
    defined = await client.put("/actions/11/indicators/a11-epn-cadastre", json=definition, headers=owner)
    assert defined.json()["changed"] is True
    assert (await client.put("/actions/11/indicators/a11-epn-cadastre", json=definition, headers=owner)).json()[
        "changed"
    ] is False
    moved = await client.put("/actions/12/indicators/a11-epn-cadastre", json=definition, headers=owner)
    assert moved.status_code == 409
    measurement = {"value": 33, "measured_on": "2024-06-30", "source": "cadastre CABAN", "external_id": "epn-2024-06"}
    assert (await client.post("/indicators/a11-epn-cadastre/measurements", json=measurement, headers=owner)).json()[
        "changed"
    ]
    assert not (await client.post("/indicators/a11-epn-cadastre/measurements", json=measurement, headers=owner)).json()[
        "changed"
    ]
    indicator = next(
        i for i in (await client.get("/actions/11")).json()["indicators"] if i["code"] == "a11-epn-cadastre"
    )
    assert (indicator["current_value"], indicator["target"]) == (33.0, 40.0)
    partner = await actions.key("caban", "owner")
    assert (
        await client.post(
            "/indicators/a11-epn-cadastre/measurements", json={**measurement, "external_id": "x"}, headers=partner
        )
    ).status_code == 403


async def test_details_are_edited_by_the_coordination_with_known_organisations(actions: ActionsUnderTest) -> None:
    coordination = await actions.key("coordination-inclusion-numerique", "coordination")
    client = actions.client
    bad = await client.patch("/actions/38", json={"partners": ["actiris", "nobody"]}, headers=coordination)
    assert bad.status_code == 409 and "nobody" in bad.json()["reason"]
    ok = await client.patch("/actions/38", json={"partners": ["actiris", "epn", "startdigital"]}, headers=coordination)
    assert ok.json()["changed"]
    history = (await client.get("/actions/38/history", headers=coordination)).json()
    assert history[-1]["changes"] == [
        {"field": "partners", "old": "epn, startdigital", "new": "actiris, epn, startdigital"}
    ]
    owner = await actions.key("bruxelles-formation", "owner")
    assert (await client.patch("/actions/38", json={"weight": 2}, headers=owner)).status_code == 403


# --- action 11: the number of labelled EPNs, set by the funding register's label decisions ----------

FUNDING = Actor(organisation="coordination-inclusion-numerique", role="coordination", key_id="k-funding")
A11_MAPPINGS = "SELECT event_type, mode, amount, order_field FROM indicator_mappings WHERE indicator_code = $1"


def decision(version: int, labelled_epns: int, epn: str, status: LabelStatus = "labelled") -> Envelope:
    """The register's decision number ``version`` on ``epn``, after which ``labelled_epns`` EPNs are labelled."""
    return funding_event(
        EpnLabelStatusChanged(
            epn=epn,
            commune="Ixelles",
            previous_status="candidate" if status == "labelled" else "labelled",
            status=status,
            decided_on=date(2024, 6, 1),
            labelled_epns=labelled_epns,
            register_version=version,
        ),
        epn,
    )


def funding_event(data: EventData, epn: str) -> Envelope:
    return Envelope.wrap(data, source="funding", subject=f"epn-{epn}", actor=FUNDING)


async def publish(service: ActionsUnderTest, bootstrap: str, *events: Envelope) -> None:
    """As the funding service's relay publishes: keyed by subject, so one EPN's events stay in order."""
    messages = [(e.subject.encode(), e.model_dump_json().encode()) for e in events]
    await produce(bootstrap, service.runtime.topic(FUNDING_TOPIC), messages)


async def a11(pool: asyncpg.Pool) -> Decimal:
    value: Decimal = await pool.fetchval("SELECT current_value FROM indicators WHERE code = 'a11-epn-labelled'")
    return value


async def test_action_11_follows_the_label_decisions_up_and_down_and_no_longer_counts_epn_labelled(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    pool = actions.runtime.pool
    assert [tuple(r) for r in await pool.fetch(A11_MAPPINGS, "a11-epn-labelled")] == [
        ("EpnLabelStatusChanged", "set", "labelled_epns", "register_version")
    ], "a fresh database gets the set mapping from the seed"

    await publish(actions, kafka_bootstrap, decision(2, 2, "epn-anderlecht"))
    await eventually(lambda: a11(pool), what="the second decision applied")  # 0 until then
    assert await a11(pool) == 2

    # Another EPN's earlier decision, read after it (another partition was behind), and the
    # EpnLabelled the funding service still publishes for a label.
    earlier = decision(1, 1, "epn-ixelles")
    label = funding_event(
        EpnLabelled(epn="epn-ixelles", commune="Ixelles", labelled_on=date(2024, 6, 1)), "epn-ixelles"
    )
    await publish(actions, kafka_bootstrap, earlier, label)
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", earlier.event_id),
        what="the earlier decision read",
    )
    ignored = 'passerelle_events_consumed_total{consumer="indicators",event_type="EpnLabelled",outcome="ignored"} 1.0'

    async def label_ignored() -> bool:
        return ignored in (await actions.client.get("/metrics")).text

    await eventually(label_ignored, what="EpnLabelled acknowledged without a handler")
    assert await a11(pool) == 2, "stale, and not counted as a label either"

    await publish(actions, kafka_bootstrap, decision(3, 1, "epn-anderlecht", "withdrawn"))
    await eventually(lambda: pool.fetchval("SELECT current_value = 1 FROM indicators WHERE code = 'a11-epn-labelled'"))
    rows = await pool.fetch(
        "SELECT value, delta, set_order FROM measurements WHERE indicator_code = 'a11-epn-labelled' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [(2, 2, 2), (1, -1, 3)], "one measurement per applied decision, with its order"
    assert await pool.fetchval("SELECT set_order FROM indicators WHERE code = 'a11-epn-labelled'") == 3


async def load_reference_before_0006(pool: asyncpg.Pool, plan: dict[str, Any]) -> None:
    """The plan's organisations, axes and chantiers as a version before migration 0006 loaded them
    (the organisations had no ``source`` yet: the seed was their only writer)."""
    await pool.executemany(
        "INSERT INTO organisations (code, name, kind, working_group, copil) VALUES ($1, $2, $3, $4, $5)",
        [(o["code"], o["name"], o["kind"], o["working_group"], o["copil"]) for o in plan["organisations"]],
    )
    await pool.executemany(
        "INSERT INTO axes (number, title_fr, title_nl) VALUES ($1, $2, $3)",
        [(a["number"], a["title_fr"], a["title_nl"]) for a in plan["axes"]],
    )
    await pool.executemany(
        "INSERT INTO chantiers (number, axis, title_fr, title_nl) VALUES ($1, $2, $3, $4)",
        [(c["number"], c["axis"], c["title_fr"], c["title_nl"]) for c in plan["chantiers"]],
    )


async def test_a_database_that_counted_epn_labelled_is_moved_to_the_label_decisions(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Migration 0004 on a database of the previous version: its EpnLabelled mapping becomes the
    set mapping, the other mappings keep adding, and the first decision replaces the labels counted."""
    url = await create_database("actions_upgrade")
    before = tmp_path / "actions"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-3]_*.sql")):
        shutil.copy(path, before)
    plan, seed = read_seed()
    pool = await db.create_pool(url)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": before})
        repo = ActionsRepository(pool)
        await load_reference_before_0006(pool, plan)
        await repo.insert_new_actions(plan["actions"])
        for indicator in seed["indicators"]:
            if indicator["code"] in ("a11-epn-labelled", "a46-devices-pupils"):
                await repo.upsert_indicator(
                    {**indicator, "action_number": indicator["action"], "baseline": Decimal(0), "target": None}
                )
        # What the previous version's seed loaded, and three labels it counted.
        await pool.executemany(
            "INSERT INTO indicator_mappings (event_type, conditions, indicator_code, amount) VALUES ($1, $2, $3, $4)",
            [
                ("DevicesDelivered", {"recipient_kind": ["pupils-association"]}, "a46-devices-pupils", "total_devices"),
                ("EpnLabelled", {}, "a11-epn-labelled", "count"),
            ],
        )
        await pool.execute("UPDATE indicators SET current_value = 3 WHERE code = 'a11-epn-labelled'")

        applied = await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        assert applied == migrations_from(4), "0004 and every later migration, on the old database"
        seeded = await pool.fetchval("SELECT count(*) FROM organisations WHERE source = 'seed'")
        assert seeded == len(plan["organisations"]), "every row from before 0006 is the seed's"
        rows = await pool.fetch(
            "SELECT event_type, conditions, indicator_code, amount, mode, order_field FROM indicator_mappings ORDER BY id"
        )
        assert [tuple(r) for r in rows] == [
            (
                "DevicesDelivered",
                {"recipient_kind": ["pupils-association"]},
                "a46-devices-pupils",
                "total_devices",
                "add",
                None,
            ),
            ("EpnLabelStatusChanged", {}, "a11-epn-labelled", "labelled_epns", "set", "register_version"),
        ]
        assert await pool.fetchval("SELECT set_order FROM indicators WHERE code = 'a11-epn-labelled'") is None
    finally:
        await pool.close()

    async with running_actions(url, kafka_bootstrap, topic_prefix) as service:
        pool = service.runtime.pool
        assert [tuple(r) for r in await pool.fetch(A11_MAPPINGS, "a11-epn-labelled")] == [
            ("EpnLabelStatusChanged", "set", "labelled_epns", "register_version")
        ], "the seed, reloaded at the start, says the same: no EpnLabelled mapping left"
        assert await pool.fetchval("SELECT count(*) FROM indicator_mappings WHERE event_type = 'EpnLabelled'") == 0
        await publish(service, kafka_bootstrap, decision(41, 2, "epn-ixelles", "withdrawn"))
        await eventually(
            lambda: pool.fetchval("SELECT set_order = 41 FROM indicators WHERE code = 'a11-epn-labelled'"),
            what="the first decision applied",
        )
        assert await a11(pool) == 2, "set to the register's count, not added to the 3 counted before"


# --- action 36: labelled EPNs with a complete line in the funding cadastre for the year -------------

A36 = "a36-epn-cadastre-complete"
RETIRED = "a36-epn-register"
A36_MAPPINGS = """SELECT event_type, indicator_code, mode, amount, order_field FROM indicator_mappings
                  JOIN indicators ON code = indicator_code WHERE action_number = 36 ORDER BY id"""
A36_ROWS = f"""SELECT value, delta, measured_on, set_order FROM measurements
               WHERE indicator_code = '{A36}' ORDER BY measured_on, id"""


def coverage(version: int, year: int, complete_epns: int) -> Envelope:
    """The funding service's announcement number ``version`` of ``year``'s coverage, made on 2 March 2026."""
    data = CadastreCoverageChanged(year=year, labelled_epns=30, complete_epns=complete_epns, coverage_version=version)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return Envelope.wrap(data, source="funding", subject=f"cadastre-{year}", actor=FUNDING, occurred_at=at)


def epn_register_grant() -> Envelope:
    """A grant of the call kind epn-register: what action 36's first stand-in counted."""
    grant = GrantAwarded(
        grant_id=str(uuid.uuid4()),
        call_code="EPN-2026",
        call_kind="epn-register",
        beneficiary="epn-ixelles",
        beneficiary_kind="epn",
        amount_eur="5000.00",
        awarded_on=date(2026, 3, 2),
    )
    return Envelope.wrap(grant, source="funding", subject=f"grant-{grant.grant_id}", actor=FUNDING)


async def all_read(pool: asyncpg.Pool, *read: Envelope) -> bool:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [e.event_id for e in read]
    )
    return count == len(read)


async def test_action_36_follows_the_cadastre_coverage_per_year_and_no_longer_counts_epn_register_grants(
    actions: ActionsUnderTest, kafka_bootstrap: str
) -> None:
    pool = actions.runtime.pool
    assert [tuple(r) for r in await pool.fetch(A36_MAPPINGS)] == [
        ("CadastreCoverageChanged", A36, "set", "complete_epns", "coverage_version")
    ], "a fresh database gets the seed's mapping, and not the retired indicator"
    assert await pool.fetchval("SELECT count(*) FROM indicators WHERE code = $1", RETIRED) == 0

    # 2026's figure and a grant the stand-in would have counted; then 2026's older figure (the
    # same key: read after it) and 2025's, read late (another year's key: another partition).
    first = [coverage(10, 2026, 17), epn_register_grant()]
    await publish(actions, kafka_bootstrap, *first)
    await eventually(lambda: all_read(pool, *first), what="2026's figure and the grant read")
    late = [coverage(8, 2026, 3), coverage(9, 2025, 12)]
    await publish(actions, kafka_bootstrap, *late)
    await eventually(lambda: all_read(pool, *late), what="the late figures read")

    assert [tuple(r) for r in await pool.fetch(A36_ROWS)] == [
        (12, 12, date(2025, 12, 31), 9),
        (17, 17, date(2026, 3, 2), 10),
    ], "2025's figure applied to 2025 whatever 2026's version; 2026's older figure stale"
    assert await pool.fetchval("SELECT current_value FROM indicators WHERE code = $1", A36) == 17, "the latest year's"
    assert await pool.fetchval("SELECT count(*) FROM measurements WHERE source = 'funding:GrantAwarded'") == 0


async def test_a_database_whose_action_36_counted_grants_keeps_that_indicator_retired_and_follows_the_cadastre(
    create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Migration 0005 and the seed on a database of the previous version: the grants' mapping is
    gone, a36-epn-register keeps its count and history under a name that says it is retired, and
    action 36 follows the cadastre's coverage."""
    url = await create_database("actions_upgrade_a36")
    before = tmp_path / "actions"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-4]_*.sql")):
        shutil.copy(path, before)
    plan, seed = read_seed()
    old_names = {
        "name_fr": "EPN inscrits au cadastre du financement",
        "name_nl": "OCR's opgenomen in het financieringskadaster",
    }
    pool = await db.create_pool(url)
    try:
        await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": before})
        repo = ActionsRepository(pool)
        await load_reference_before_0006(pool, plan)
        await repo.insert_new_actions(plan["actions"])
        [a36] = [i for i in seed["indicators"] if i["code"] == RETIRED]
        await repo.upsert_indicator({**a36, **old_names, "action_number": 36, "baseline": Decimal(0), "target": None})
        # What the previous version's seed loaded, and a grant it counted.
        await repo.replace_mappings(
            [
                {
                    "event_type": "GrantAwarded",
                    "conditions": {"call_kind": ["epn-register"]},
                    "indicator": RETIRED,
                    "amount": "count",
                }
            ]
        )
        await pool.execute(  # as the previous version wrote it (no set_order yet)
            """INSERT INTO measurements (indicator_code, value, delta, measured_on, origin, source, source_event_id, actor)
               VALUES ($1, 1, 1, '2025-05-02', 'derived', 'funding:GrantAwarded', $2, $3)""",
            RETIRED,
            uuid.uuid4(),
            SYSTEM_ACTOR.model_dump(mode="json"),
        )
        await pool.execute("UPDATE indicators SET current_value = 1 WHERE code = $1", RETIRED)

        applied = await db.migrate(pool, {"runtime": db.RUNTIME_MIGRATIONS, "actions": MIGRATIONS})
        assert applied == migrations_from(5)
        assert await pool.fetchval("SELECT count(*) FROM indicator_mappings") == 0, "the grants' mapping removed"
        assert await pool.fetchval("SELECT set_order FROM measurements WHERE indicator_code = $1", RETIRED) is None
    finally:
        await pool.close()

    async with running_actions(url, kafka_bootstrap, topic_prefix) as service:
        pool = service.runtime.pool
        assert [tuple(r) for r in await pool.fetch(A36_MAPPINGS)] == [
            ("CadastreCoverageChanged", A36, "set", "complete_epns", "coverage_version")
        ], "the seed, reloaded at the start: the cadastre's mapping only"
        retired = await pool.fetchrow("SELECT name_fr, name_nl, current_value FROM indicators WHERE code = $1", RETIRED)
        assert tuple(retired) == (
            f"{old_names['name_fr']} (retiré)",
            f"{old_names['name_nl']} (stopgezet)",
            1,
        ), "kept with its count, its names saying it is retired"
        assert await pool.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = $1", RETIRED) == 1
        renamed = await pool.fetch(
            "SELECT changes FROM action_history WHERE action_number = 36 AND event_type = 'IndicatorDefined' "
            "AND data->>'indicator_code' = $1",
            RETIRED,
        )
        assert [[c["field"] for c in r["changes"]] for r in renamed] == [["name_fr", "name_nl"]], "announced once"

        announced = [epn_register_grant(), coverage(3, 2026, 17)]
        await publish(service, kafka_bootstrap, *announced)
        await eventually(lambda: all_read(pool, *announced), what="the grant and the coverage read")
        assert await pool.fetchval("SELECT current_value FROM indicators WHERE code = $1", A36) == 17
        assert await pool.fetchval("SELECT count(*) FROM measurements WHERE indicator_code = $1", RETIRED) == 1, (
            "no grant counted twice over, nor any more"
        )
