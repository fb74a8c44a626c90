"""Redistribution against the real database: requests, review, allocation under caps with a
preview, delivery acknowledged by the recipient, follow-ups, returns, disposal and WEEE."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.equipment.domain import add_months
from services.runtime.inputs import brussels_today
from tests.integration.test_equipment_record import DONOR, REFURBISHER, outbox, wipe

pytestmark = pytest.mark.infra

SCHOOL, HOME = "athenee-exemple", "maison-de-repos-exemple"
TODAY = brussels_today()  # deliveries happen after the devices' intake (today, in these tests)


async def stocked(equipment: Any) -> dict[str, Any]:
    """8 devices declared, handed to the refurbisher, refurbished; one laptop fails its wipe."""
    c = equipment.client
    keys = {
        "coordination": await equipment.key("coordination-inclusion-numerique", "coordination"),
        "refurbisher": await equipment.key(REFURBISHER, "refurbisher"),
        "school": await equipment.key(SCHOOL, "recipient"),
        "home": await equipment.key(HOME, "recipient"),
    }
    await c.put(
        f"/organisations/{SCHOOL}",
        json={"name": "Athénée (exemple)", "kind": "secondary-school", "commune": "Ixelles"},
        headers=keys["coordination"],
    )
    devices = [{"asset_tag": f"L{i}", "kind": "laptop", "storage": "ssd:256"} for i in range(6)]
    devices += [{"asset_tag": f"T{i}", "kind": "tablet", "storage": "emmc:32"} for i in range(2)]
    await c.post(
        "/batches", json={"donor": DONOR, "reference": "R-1", "devices": devices}, headers=keys["coordination"]
    )
    listed = (await c.get("/devices", params={"custodian": DONOR}, headers=keys["coordination"])).json()
    transfer = (
        await c.post(
            "/transfers", json={"to": REFURBISHER, "devices": [d["id"] for d in listed]}, headers=keys["coordination"]
        )
    ).json()
    await c.post(f"/transfers/{transfer['id']}/confirm", headers=keys["refurbisher"])
    by_tag = {d["asset_tag"]: d["id"] for d in listed}
    for tag, device_id in by_tag.items():
        result = "failed" if tag == "L5" else "passed"
        await c.post(
            f"/devices/{device_id}/sanitisations", json={"records": [wipe("m1", result)]}, headers=keys["refurbisher"]
        )
        await c.post(
            f"/devices/{device_id}/condition",
            json={"physical": "refurbished", "grade": "B"},
            headers=keys["refurbisher"],
        )
    return {"keys": keys, "ids": by_tag}


async def test_a_season_of_redistribution_keeps_caps_the_rule_and_the_books(equipment: Any) -> None:
    c = equipment.client
    world = await stocked(equipment)
    keys, ids = world["keys"], world["ids"]

    school = (
        await c.post(
            "/requests",
            json={"recipient": SCHOOL, "devices": {"laptop": 5}, "public": "young-people", "beneficiaries": 120},
            headers=keys["school"],
        )
    ).json()
    home = (
        await c.post(
            "/requests",
            json={"recipient": HOME, "devices": {"tablet": 2, "laptop": 2}, "public": "seniors"},
            headers=keys["home"],
        )
    ).json()
    assert (
        await c.post("/requests", json={"recipient": SCHOOL, "devices": {"laptop": 1}}, headers=keys["home"])
    ).status_code == 403
    await c.post(f"/requests/{school['id']}/review", json={"decision": "accepted"}, headers=keys["coordination"])
    partial = await c.post(
        f"/requests/{home['id']}/review",
        json={"decision": "partially_accepted", "granted": {"tablet": 2, "laptop": 1}},
        headers=keys["coordination"],
    )
    assert partial.json()["granted"] == {"tablet": 2, "laptop": 1}
    await c.put("/caps/2024/secondary-school/laptop", json={"max_devices": 3}, headers=keys["coordination"])

    preview = (await c.get("/allocation/preview", params={"period": "2024"}, headers=keys["coordination"])).json()
    allocated = {a["recipient"]: a["devices"] for a in preview["allocations"]}
    assert allocated == {SCHOOL: {"laptop": 3}, HOME: {"laptop": 1, "tablet": 2}}
    assert preview["capped"] == {school["id"]: {"laptop": 2}}
    assert ids["L5"] not in [d for a in preview["allocations"] for d in a["device_ids"]], (
        "a failed wipe is never allocated"
    )

    stale = await c.post(
        "/allocation/confirm", json={"period": "2024", "preview_token": "0" * 16}, headers=keys["coordination"]
    )
    assert stale.status_code == 409
    done = (
        await c.post(
            "/allocation/confirm",
            json={"period": "2024", "preview_token": preview["preview_token"]},
            headers=keys["coordination"],
        )
    ).json()
    school_devices = next(a["device_ids"] for a in done["allocations"] if a["recipient"] == SCHOOL)
    again = (await c.get("/allocation/preview", params={"period": "2024"}, headers=keys["coordination"])).json()
    assert again["allocations"] == [] and again["waiting"][school["id"]] == {"laptop": 2}, "the cap holds across runs"

    failed = await c.post(
        "/handovers",
        json={"recipient": SCHOOL, "devices": [ids["L5"]], "delivered_on": TODAY.isoformat()},
        headers=keys["refurbisher"],
    )
    assert failed.status_code == 409
    handover = (
        await c.post(
            "/handovers",
            json={"recipient": SCHOOL, "devices": school_devices, "delivered_on": TODAY.isoformat()},
            headers=keys["refurbisher"],
        )
    ).json()
    assert (await c.post(f"/handovers/{handover['id']}/acknowledge", headers=keys["home"])).status_code == 403
    ack = (await c.post(f"/handovers/{handover['id']}/acknowledge", headers=keys["school"])).json()
    assert ack["next_follow_up"] == add_months(TODAY, 6).isoformat()
    [delivered] = await outbox(equipment, "DevicesDelivered")
    assert (delivered["recipient_kind"], delivered["total_devices"], delivered["donor_kind"], delivered["public"]) == (
        "secondary-school",
        3,
        "regional-public-body",
        "young-people",
    )

    # Six months later (the follow-up's date moved back, the clock cannot be).
    due = TODAY - timedelta(days=1)
    await equipment.runtime.pool.execute(
        "UPDATE handovers SET next_follow_up = $2 WHERE id = $1", uuid.UUID(handover["id"]), due
    )
    before, on, after = (due - timedelta(days=1)).isoformat(), due.isoformat(), TODAY.isoformat()
    assert (await c.post("/follow-ups/check", params={"as_of": before}, headers=keys["coordination"])).json()[
        "reminders"
    ] == []
    assert (
        len((await c.post("/follow-ups/check", params={"as_of": on}, headers=keys["coordination"])).json()["reminders"])
        == 1
    )
    assert (await c.post("/follow-ups/check", params={"as_of": after}, headers=keys["coordination"])).json()[
        "reminders"
    ] == []

    returned = school_devices[0]
    answer = await c.post(
        f"/devices/{returned}/return",
        json={"returned_to": REFURBISHER, "reason": "Écran cassé"},
        headers=keys["school"],
    )
    assert answer.json()["allocation"] == "returned"
    device = (await c.get(f"/devices/{returned}", headers=keys["refurbisher"])).json()
    assert (device["custodian"], device["sanitisation"], device["physical"]) == (REFURBISHER, "pending", "to_repair")
    assert (await c.get(f"/devices/{returned}", headers=keys["school"])).status_code == 404, "the school gave it back"
    assert returned not in [
        d
        for a in (await c.get("/allocation/preview", params={"period": "2025"}, headers=keys["coordination"])).json()[
            "allocations"
        ]
        for d in a["device_ids"]
    ], "a returned device must be wiped again first"
    again = {"records": [wipe("m1", on="2024-06-03")]}  # wiped again, after its return
    await c.post(f"/devices/{returned}/sanitisations", json=again, headers=keys["refurbisher"])
    back = (
        await c.post(
            f"/devices/{returned}/condition",
            json={"physical": "refurbished", "grade": "C"},
            headers=keys["refurbisher"],
        )
    ).json()
    assert (back["allocation"], back["sanitisation"]) == ("available", "wiped")
    record = (await c.get(f"/devices/{returned}", headers=keys["refurbisher"])).json()
    assert len(record["certificates"]) == 2, "a new certificate for the new wipe"

    disposal = {
        "recycler": "recupel-partenaire",
        "disposed_on": TODAY.isoformat(),
        "method": "recycling",
        "certificate_reference": "REC-17",
    }
    assert (await c.post(f"/devices/{ids['L5']}/disposal", json=disposal, headers=keys["refurbisher"])).json()[
        "physical"
    ] == "disposed"
    assert (
        await c.post(f"/devices/{school_devices[1]}/disposal", json=disposal, headers=keys["coordination"])
    ).status_code == 409
    weee = list(csv.DictReader(io.StringIO((await c.get(f"/weee/{TODAY.year}.csv", headers=keys["refurbisher"])).text)))
    assert [(w["device_id"], w["recycler"]) for w in weee] == [(ids["L5"], "recupel-partenaire")]


async def test_figures_give_stock_and_flow_at_a_date(equipment: Any) -> None:
    c = equipment.client
    world = await stocked(equipment)
    keys = world["keys"]
    request = (
        await c.post(
            "/requests", json={"recipient": HOME, "devices": {"tablet": 2}, "public": "seniors"}, headers=keys["home"]
        )
    ).json()
    await c.post(f"/requests/{request['id']}/review", json={"decision": "accepted"}, headers=keys["coordination"])
    preview = (await c.get("/allocation/preview", params={"period": "2024"}, headers=keys["coordination"])).json()
    await c.post(
        "/allocation/confirm",
        json={"period": "2024", "preview_token": preview["preview_token"]},
        headers=keys["coordination"],
    )
    tablets = preview["allocations"][0]["device_ids"]
    handover = (
        await c.post(
            "/handovers",
            json={"recipient": HOME, "devices": tablets, "delivered_on": TODAY.isoformat()},
            headers=keys["refurbisher"],
        )
    ).json()
    await c.post(f"/handovers/{handover['id']}/acknowledge", headers=keys["home"])

    today = (await c.get("/figures")).json()
    assert today["flow"] == {
        "declared": 8,
        "received": 8,
        "wiped": 7,
        "failed": 1,
        "refurbished": 8,
        "allocated": 2,
        "delivered": 2,
        "returned": 0,
        "disposed": 0,
    }
    assert today["stock"] == {"at refurbishers": 1, "ready to allocate": 5, "with recipients": 2}
    assert today["by_donor"][DONOR]["delivered"] == 2
    assert today["delivered_by"] == {
        "recipient_kind": {"retirement-home": 2},
        "public": {"seniors": 2},
        "commune": {"Schaerbeek": 2},
    }
    assert today["intake_to_delivery_days"]["devices"] == 2
    before = (await c.get("/figures", params={"as_of": "2020-01-01"})).json()
    assert before["flow"]["declared"] == 0 and before["stock"] == {}


async def test_the_donor_hears_when_its_whole_batch_was_delivered_or_disposed_of(equipment: Any) -> None:
    c = equipment.client
    coordination = await equipment.key("coordination-inclusion-numerique", "coordination")
    devices = [
        {"asset_tag": "T1", "kind": "tablet", "storage": "emmc:32"},
        {"asset_tag": "T2", "kind": "tablet", "storage": "emmc:32"},
        {"asset_tag": "T3", "kind": "tablet", "storage": "emmc:32"},
    ]
    await c.post("/batches", json={"donor": DONOR, "reference": "SMALL", "devices": devices}, headers=coordination)
    ids = {d["asset_tag"]: d["id"] for d in (await c.get("/devices", headers=coordination)).json()}
    transfer = (
        await c.post("/transfers", json={"to": REFURBISHER, "devices": list(ids.values())}, headers=coordination)
    ).json()
    await c.post(f"/transfers/{transfer['id']}/confirm", headers=coordination)
    for tag, device_id in ids.items():
        await c.post(
            f"/devices/{device_id}/sanitisations",
            json={"records": [wipe("m1", "failed" if tag == "T3" else "passed")]},
            headers=coordination,
        )
        if tag != "T3":
            await c.post(
                f"/devices/{device_id}/condition", json={"physical": "refurbished", "grade": "A"}, headers=coordination
            )
    request = (
        await c.post("/requests", json={"recipient": HOME, "devices": {"tablet": 2}}, headers=coordination)
    ).json()
    await c.post(f"/requests/{request['id']}/review", json={"decision": "accepted"}, headers=coordination)
    preview = (await c.get("/allocation/preview", params={"period": "2024"}, headers=coordination)).json()
    await c.post(
        "/allocation/confirm", json={"period": "2024", "preview_token": preview["preview_token"]}, headers=coordination
    )
    handover = (
        await c.post(
            "/handovers",
            json={"recipient": HOME, "devices": [ids["T1"], ids["T2"]], "delivered_on": TODAY.isoformat()},
            headers=coordination,
        )
    ).json()
    await c.post(f"/handovers/{handover['id']}/acknowledge", headers=coordination)
    assert [m["milestone"] for m in await outbox(equipment, "BatchMilestoneReached")] == ["received", "sanitised"]
    disposal = {
        "recycler": "recupel-partenaire",
        "disposed_on": TODAY.isoformat(),
        "method": "destruction",
        "certificate_reference": "D-1",
    }
    await c.post(f"/devices/{ids['T3']}/disposal", json=disposal, headers=coordination)
    milestones = await outbox(equipment, "BatchMilestoneReached")
    assert [m["milestone"] for m in milestones] == ["received", "sanitised", "delivered"]
    assert (milestones[-1]["delivered"], milestones[-1]["failed"]) == (2, 1)
