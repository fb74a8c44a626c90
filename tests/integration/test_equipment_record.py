"""The equipment service's device record against the real database: intake, custody,
condition, sanitisation with certificates, donors' milestones, and the sanitisation rule."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import pytest

from services.equipment import certificates

pytestmark = pytest.mark.infra

DONOR = "cirb-paradigm"
REFURBISHER = "asbl-reconditionnement-exemple"
SCHOOL = "ecole-secondaire-exemple"
DEVICES = [
    {"asset_tag": "PAR-001", "kind": "laptop", "make": "Lenovo", "model": "T480", "ram_gb": 8, "storage": "ssd:256:S1"},
    {"asset_tag": "PAR-002", "kind": "desktop", "make": "HP", "model": "800 G3", "storage": "ssd:128;hdd:500:W2"},
    {"asset_tag": "PAR-003", "kind": "screen", "make": "Dell", "model": "P2419H"},
]


def wipe(medium: str, result: str = "passed", method: str = "purge", on: str = "2024-02-20") -> dict[str, Any]:
    return {
        "medium_id": medium,
        "method": method,
        "tool": "nwipe",
        "tool_version": "0.35",
        "passes": 1,
        "verification": "full",
        "operator": "op-17",
        "started_at": f"{on}T09:00:00Z",
        "ended_at": f"{on}T10:30:00Z",
        "result": result,
    }


async def outbox(service: Any, event_type: str) -> list[dict[str, Any]]:
    rows = await service.runtime.pool.fetch(
        "SELECT payload FROM outbox WHERE topic NOT LIKE '%partners.%' AND event_type = $1 ORDER BY id", event_type
    )
    return [r["payload"]["data"] for r in rows]


async def declared(equipment: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    headers = {
        "donor": await equipment.key(DONOR, "donor"),
        "refurbisher": await equipment.key(REFURBISHER, "refurbisher"),
        "coordination": await equipment.key("coordination-inclusion-numerique", "coordination"),
    }
    answer = await equipment.client.post(
        "/batches", json={"donor": DONOR, "reference": "PAR-2024-01", "devices": DEVICES}, headers=headers["donor"]
    )
    assert answer.status_code == 201, answer.text
    listed = await equipment.client.get("/devices", params={"custodian": DONOR}, headers=headers["donor"])
    devices = {d["asset_tag"]: d for d in listed.json()}
    return headers, devices


async def test_a_batch_is_declared_once_by_donor_and_asset_tag(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    again = await equipment.client.post(
        "/batches", json={"donor": DONOR, "reference": "PAR-2024-01", "devices": DEVICES}, headers=headers["donor"]
    )
    assert (again.json()["created"], again.json()["existing"]) == (0, 3)
    [batch] = await outbox(equipment, "BatchDeclared")
    assert (batch["total_devices"], batch["devices"]) == (3, {"laptop": 1, "desktop": 1, "screen": 1})
    assert {d["short_code"][:4] for d in devices.values()} == {"PSR-"}
    desktop = (await equipment.client.get(f"/devices/{devices['PAR-002']['id']}", headers=headers["donor"])).json()
    assert [m["type"] for m in desktop["media"]] == ["ssd", "hdd"]
    other = await equipment.key("easy-brussels", "donor")
    refused = await equipment.client.post(
        "/batches", json={"donor": DONOR, "reference": "X", "devices": DEVICES}, headers=other
    )
    assert refused.status_code == 403


async def test_a_csv_intake_reports_bad_rows_and_keeps_the_good_ones(equipment: Any) -> None:
    coordination = await equipment.key("coordination-inclusion-numerique", "coordination")
    text = (
        "asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year\n"
        "A1,S1,laptop,Dell,Latitude,i5,8,ssd:256,2018\n"
        "A2,S2,toaster,Dell,X,,,,\n"
        "A3,S3,laptop,Dell,X,,lots,,\n"
        "A1,S9,laptop,Dell,Latitude,,,,\n"
        "A4,S4,tablet,Apple,iPad,,,emmc:32,2019\n"
    )
    report = (
        await equipment.client.post(f"/batches/{DONOR}/CSV-1/devices.csv", content=text, headers=coordination)
    ).json()
    assert report["created"] == 2
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "kind"), (4, "ram_gb"), (5, "asset_tag")]


async def test_custody_moves_when_the_receiver_confirms_and_the_donor_hears_once(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    assert (
        await equipment.client.post(
            "/transfers", json={"to": REFURBISHER, "devices": ids[:1]}, headers=headers["donor"]
        )
    ).status_code == 409
    assert (
        await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["donor"])
    ).status_code == 403
    confirmed = await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    assert confirmed.json()["status"] == "confirmed"
    assert {
        d["custodian"]
        for d in (
            await equipment.client.get(
                "/devices", params={"batch": devices["PAR-001"]["batch_id"]}, headers=headers["coordination"]
            )
        ).json()
    } == {REFURBISHER}
    [moved] = await outbox(equipment, "DevicesTransferred")
    assert (moved["from_organisation"], moved["to_organisation"], moved["total_devices"]) == (DONOR, REFURBISHER, 3)
    assert [m["milestone"] for m in await outbox(equipment, "BatchMilestoneReached")] == ["received"]
    again = await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    assert again.status_code == 409


async def test_sanitisation_issues_a_certificate_and_the_rule_holds_even_against_a_direct_write(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    laptop, desktop = devices["PAR-001"]["id"], devices["PAR-002"]["id"]
    refurbisher = headers["refurbisher"]

    wiped = (
        await equipment.client.post(
            f"/devices/{laptop}/sanitisations", json={"records": [wipe("m1")]}, headers=refurbisher
        )
    ).json()
    assert wiped["sanitisation"] == "wiped"
    [certificate] = (await equipment.client.get(f"/devices/{laptop}", headers=refurbisher)).json()["certificates"]
    pdf = await equipment.client.get(f"/certificates/{certificate['id']}.pdf", headers=headers["donor"])
    assert pdf.content.startswith(b"%PDF")
    [event] = [e for e in await outbox(equipment, "DeviceSanitised") if e["device_id"] == laptop]
    assert event["certificate_sha256"] == certificate["sha256"]
    assert "operator" not in str(event) and "op-17" not in str(event), "no person in events"

    half = await equipment.client.post(
        f"/devices/{desktop}/sanitisations",
        json={"records": [wipe("m1"), wipe("m2", "passed_with_warnings")]},
        headers=refurbisher,
    )
    assert half.json()["sanitisation"] == "failed"
    pool: asyncpg.Pool = equipment.runtime.pool
    with pytest.raises(asyncpg.CheckViolationError, match="cannot be allocated while its sanitisation is failed"):
        await pool.execute("UPDATE devices SET allocation = 'allocated' WHERE id = $1", uuid.UUID(desktop))
    unknown = await equipment.client.post(
        f"/devices/{desktop}/sanitisations", json={"records": [wipe("m9")]}, headers=refurbisher
    )
    assert unknown.status_code == 422
    fixed = await equipment.client.post(
        f"/devices/{desktop}/sanitisations", json={"records": [wipe("m2")]}, headers=refurbisher
    )
    assert fixed.json()["sanitisation"] == "wiped"
    await pool.execute("UPDATE devices SET allocation = 'reserved' WHERE id = $1", uuid.UUID(desktop))  # now allowed

    assert [m["milestone"] for m in await outbox(equipment, "BatchMilestoneReached")] == ["received", "sanitised"]
    sanitised = (await outbox(equipment, "BatchMilestoneReached"))[1]
    # Announced once every device had a result (the screen needs no wipe): the desktop had failed then.
    assert (sanitised["wiped"], sanitised["failed"], sanitised["declared"]) == (2, 1, 3)


async def test_the_condition_follows_the_refurbishing_flow(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    laptop = devices["PAR-001"]["id"]
    coordination = headers["coordination"]
    no_grade = await equipment.client.post(
        f"/devices/{laptop}/condition", json={"physical": "refurbished"}, headers=coordination
    )
    assert no_grade.status_code == 422
    done = await equipment.client.post(
        f"/devices/{laptop}/condition",
        json={"physical": "refurbished", "grade": "A", "final_spec": {"ram_gb": 16}},
        headers=coordination,
    )
    assert (done.json()["physical"], done.json()["grade"]) == ("refurbished", "A")
    await equipment.client.post(f"/devices/{laptop}/condition", json={"physical": "disposed"}, headers=coordination)
    back = await equipment.client.post(
        f"/devices/{laptop}/condition", json={"physical": "refurbished", "grade": "B"}, headers=coordination
    )
    assert back.status_code == 409
    history = [
        h["action"] for h in (await equipment.client.get(f"/devices/{laptop}", headers=coordination)).json()["history"]
    ]
    assert history == ["declared", "refurbished", "disposed"]
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await equipment.runtime.pool.execute("DELETE FROM device_history WHERE device_id = $1", uuid.UUID(laptop))


async def test_every_device_has_a_printable_label_with_its_qr_code(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    laptop = devices["PAR-001"]
    png = await equipment.client.get(f"/devices/{laptop['id']}/label.png", headers=headers["donor"])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    sheet = await equipment.client.get(f"/batches/{laptop['batch_id']}/labels.pdf", headers=headers["donor"])
    assert sheet.content.startswith(b"%PDF")
    assert (
        await equipment.client.get(f"/devices/{uuid.uuid4()}/label.png", headers=headers["donor"])
    ).status_code == 404


async def test_wipes_are_recorded_in_bulk_with_a_report_per_row(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    laptop, desktop = devices["PAR-001"], devices["PAR-002"]
    head = (
        "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
    )
    row = (
        "{device},{medium},purge,nwipe,0.35,1,full,op-3,2024-02-20T09:00:00+01:00,2024-02-20T10:00:00+01:00,{result},\n"
    )
    text = (
        head
        + row.format(device=laptop["short_code"], medium="m1", result="passed")
        + row.format(device=desktop["id"], medium="m1", result="passed")
        + row.format(device=desktop["id"], medium="m2", result="failed")
        + row.format(device="PSR-NONE-XXXX", medium="m1", result="passed")
        + row.format(device=laptop["short_code"], medium="m1", result="maybe")
    )
    report = (await equipment.client.post("/sanitisations.csv", content=text, headers=headers["refurbisher"])).json()
    assert (report["devices"], report["records"]) == (2, 3)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(5, "device"), (6, "result")]
    listed = (await equipment.client.get("/devices", headers=headers["refurbisher"])).json()
    states = {d["asset_tag"]: d["sanitisation"] for d in listed}
    assert states == {"PAR-001": "wiped", "PAR-002": "failed", "PAR-003": "wiped"}


async def test_a_device_whose_wipe_failed_is_not_moved_into_a_schools_custody(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    laptop, desktop = devices["PAR-001"]["id"], devices["PAR-002"]["id"]
    refurbisher, school = headers["refurbisher"], await equipment.key(SCHOOL, "recipient")
    await equipment.client.post(
        f"/devices/{desktop}/sanitisations", json={"records": [wipe("m1"), wipe("m2", "failed")]}, headers=refurbisher
    )
    await equipment.client.post(f"/devices/{laptop}/sanitisations", json={"records": [wipe("m1")]}, headers=refurbisher)
    refused = await equipment.client.post("/transfers", json={"to": SCHOOL, "devices": [desktop]}, headers=refurbisher)
    assert refused.status_code == 409, refused.text
    assert "no passing sanitisation for medium m2" in refused.json()["reason"]
    moved = await equipment.client.post("/transfers", json={"to": SCHOOL, "devices": [laptop]}, headers=refurbisher)
    assert moved.status_code == 201, moved.text
    confirmed = await equipment.client.post(f"/transfers/{moved.json()['id']}/confirm", headers=school)
    assert confirmed.status_code == 200
    stock = (await equipment.client.get("/figures")).json()["stock"]
    assert stock == {"at refurbishers": 2, "with recipients": 1}, "the laptop is with the school"


async def test_a_device_declared_without_storage_is_inspected_before_it_counts_as_wiped(equipment: Any) -> None:
    coordination = await equipment.key("coordination-inclusion-numerique", "coordination")
    bare = {"asset_tag": "BARE-1", "kind": "laptop", "make": "Dell", "model": "E7450"}
    await equipment.client.post(
        "/batches", json={"donor": DONOR, "reference": "BARE", "devices": [bare]}, headers=coordination
    )
    [device] = (await equipment.client.get("/devices", headers=coordination)).json()
    assert (device["sanitisation"], device["media_known"]) == ("pending", False)
    assert (await equipment.client.get("/figures")).json()["flow"]["wiped"] == 0
    found = await equipment.client.post(
        f"/devices/{device['id']}/media",
        json={"media": [{"type": "hdd", "capacity_gb": 500, "serial": "WD-1"}]},
        headers=coordination,
    )
    assert found.status_code == 200, found.text
    assert ([m["medium_id"] for m in found.json()["media"]], found.json()["sanitisation"]) == (["m1"], "pending")
    wiped = await equipment.client.post(
        f"/devices/{device['id']}/sanitisations", json={"records": [wipe("m1")]}, headers=coordination
    )
    assert wiped.json()["sanitisation"] == "wiped"
    assert (await equipment.client.get("/figures")).json()["flow"]["wiped"] == 1


async def at_the_refurbisher(equipment: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    return headers, devices


async def test_a_logs_certificates_are_rendered_by_the_services_workers_and_verify_against_their_events(
    equipment: Any,
) -> None:
    headers, devices = await at_the_refurbisher(equipment)
    laptop, desktop = devices["PAR-001"], devices["PAR-002"]
    row = "{device},{medium},purge,nwipe,0.35,1,full,op-3,2024-02-20T09:00:00+01:00,2024-02-20T10:00:00+01:00,passed,\n"
    text = (
        "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
        + row.format(device=laptop["short_code"], medium="m1")
        + row.format(device=desktop["id"], medium="m1")
        + row.format(device=desktop["id"], medium="m2")
    )
    report = await equipment.client.post("/sanitisations.csv", content=text, headers=headers["refurbisher"])
    assert (report.json()["devices"], report.json()["records"]) == (2, 3), report.text
    events = {e["device_id"]: e for e in await outbox(equipment, "DeviceSanitised")}
    for device in (laptop, desktop):
        [certificate] = (await equipment.client.get(f"/devices/{device['id']}", headers=headers["donor"])).json()[
            "certificates"
        ]
        pdf = await equipment.client.get(f"/certificates/{certificate['id']}.pdf", headers=headers["donor"])
        assert pdf.content.startswith(b"%PDF") and device["short_code"].encode() in pdf.content
        assert hashlib.sha256(pdf.content).hexdigest() == certificate["sha256"] == pdf.headers["ETag"].strip('"')
        assert events[device["id"]]["certificate_id"] == certificate["id"]
        assert events[device["id"]]["certificate_sha256"] == certificate["sha256"], "the digest published is the PDF's"
    renderer = certificates.renderer()
    assert renderer.workers == equipment.settings.certificate_workers > 0 and renderer._pool is not None


async def test_a_workshops_sheet_grades_devices_for_their_holder_only_and_reports_each_bad_row(equipment: Any) -> None:
    headers, devices = await at_the_refurbisher(equipment)
    laptop, desktop = devices["PAR-001"], devices["PAR-002"]
    sheet = f"device,physical,grade\n{laptop['short_code']},refurbished,A\n{desktop['id']},refurbished,\nX,sold,A\n"
    refused = await equipment.client.post("/conditions.csv", content=sheet, headers=headers["donor"])
    assert refused.status_code == 403, refused.text
    latin = await equipment.client.post(
        "/conditions.csv", content="device,physical\nÉcran,disposed\n".encode("latin-1"), headers=headers["refurbisher"]
    )
    assert latin.status_code == 422 and "line 2" in latin.json()["reason"]
    headless = await equipment.client.post(
        "/conditions.csv", content="device,grade\nX,A\n", headers=headers["refurbisher"]
    )
    assert headless.status_code == 422 and "physical" in headless.json()["reason"]
    answer = await equipment.client.post("/conditions.csv", content=sheet, headers=headers["refurbisher"])
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["devices"], report["changed"]) == (1, 1)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "device"), (4, "physical")]
    listed = {
        d["asset_tag"]: d for d in (await equipment.client.get("/devices", headers=headers["refurbisher"])).json()
    }
    assert (listed["PAR-001"]["physical"], listed["PAR-001"]["grade"]) == ("refurbished", "A")
    assert listed["PAR-002"]["physical"] == "received"
    [event] = await outbox(equipment, "DeviceConditionChanged")
    assert (event["device_id"], event["physical"], event["grade"]) == (laptop["id"], "refurbished", "A")
