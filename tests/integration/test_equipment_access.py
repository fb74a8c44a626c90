"""Who may read what in the equipment service. The aggregate figures and the caps are public; the
device record (serials, custody history, certificates with the operator's id, labels), the
requests with their justifications, the allocation preview and the WEEE register need a key,
and each partner reads its own: another organisation's device is not found."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_equipment_record import DONOR, REFURBISHER, declared, wipe

pytestmark = pytest.mark.infra

COORDINATION = "coordination-inclusion-numerique"
HOME = "maison-de-repos-exemple"
SCHOOL = "ecole-secondaire-exemple"


async def a_wiped_batch(equipment: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    laptop = devices["PAR-001"]["id"]
    await equipment.client.post(
        f"/devices/{laptop}/sanitisations", json={"records": [wipe("m1")]}, headers=headers["refurbisher"]
    )
    record = (await equipment.client.get(f"/devices/{laptop}", headers=headers["coordination"])).json()
    [certificate] = record["certificates"]
    return headers, devices, certificate["id"]


async def test_the_device_record_the_requests_the_preview_and_the_weee_register_need_a_key(equipment: Any) -> None:
    _, devices, certificate = await a_wiped_batch(equipment)
    laptop = devices["PAR-001"]
    for path in (
        "/organisations",
        "/devices",
        f"/devices/{laptop['id']}",
        f"/devices/{laptop['id']}/label.png",
        f"/batches/{laptop['batch_id']}/labels.pdf",
        f"/certificates/{certificate}.pdf",
        "/requests",
        "/allocation/preview?period=2024",
        "/weee/2024.csv",
    ):
        answer = await equipment.client.get(path)
        assert answer.status_code == 401, (path, answer.status_code)


async def test_the_figures_and_the_caps_are_public(equipment: Any) -> None:
    assert (await equipment.client.get("/figures")).status_code == 200
    assert (await equipment.client.get("/caps")).status_code == 200


async def test_a_donor_reads_its_devices_and_certificates_and_another_donor_finds_none_of_them(equipment: Any) -> None:
    headers, devices, certificate = await a_wiped_batch(equipment)
    laptop = devices["PAR-001"]
    other = await equipment.key("easy-brussels", "donor")
    assert {d["id"] for d in (await equipment.client.get("/devices", headers=headers["donor"])).json()} == {
        d["id"] for d in devices.values()
    }
    pdf = await equipment.client.get(f"/certificates/{certificate}.pdf", headers=headers["donor"])
    assert pdf.content.startswith(b"%PDF")
    assert (await equipment.client.get("/devices", headers=other)).json() == []
    for path in (
        f"/devices/{laptop['id']}",
        f"/devices/{laptop['id']}/label.png",
        f"/batches/{laptop['batch_id']}/labels.pdf",
        f"/certificates/{certificate}.pdf",
    ):
        answer = await equipment.client.get(path, headers=other)
        assert answer.status_code == 404, (path, answer.status_code)
    refurbisher = (await equipment.client.get(f"/devices/{laptop['id']}", headers=headers["refurbisher"])).json()
    assert refurbisher["sanitisations"][0]["tool"] == "nwipe", "the refurbisher that holds it reads its record"


async def test_a_recipient_reads_its_own_requests_and_neither_the_preview_nor_anyone_elses(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    screen = devices["PAR-003"]  # held by the refurbisher, then disposed of: not the home's
    transfer = (
        await equipment.client.post(
            "/transfers", json={"to": REFURBISHER, "devices": [screen["id"]]}, headers=headers["donor"]
        )
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    disposal = {"recycler": "recupel", "disposed_on": "2024-09-12", "method": "recycling", "certificate_reference": "R"}
    disposed = await equipment.client.post(
        f"/devices/{screen['id']}/disposal", json=disposal, headers=headers["refurbisher"]
    )
    assert disposed.status_code == 200, disposed.text
    home = await equipment.key(HOME, "recipient")
    school = await equipment.key(SCHOOL, "recipient")
    donor = await equipment.key(DONOR, "donor")
    coordination = await equipment.key(COORDINATION, "coordination")
    for key, recipient, why in ((home, HOME, "Résidents isolés"), (school, SCHOOL, "Élèves sans ordinateur")):
        asked = await equipment.client.post(
            "/requests", json={"recipient": recipient, "devices": {"tablet": 2}, "justification": why}, headers=key
        )
        assert asked.status_code == 201, asked.text
    [own] = (await equipment.client.get("/requests", headers=home)).json()
    assert (own["recipient"], own["justification"]) == (HOME, "Résidents isolés")
    assert len((await equipment.client.get("/requests", headers=coordination)).json()) == 2
    assert (await equipment.client.get("/requests", headers=donor)).status_code == 403
    assert (await equipment.client.get("/allocation/preview?period=2024", headers=home)).status_code == 403
    assert (await equipment.client.get("/allocation/preview?period=2024", headers=coordination)).status_code == 200
    scoped = (await equipment.client.get("/weee/2024.csv", headers=home)).text
    assert screen["short_code"] not in scoped and scoped.strip().count("\n") == 0, "the header only"
    whole = (await equipment.client.get("/weee/2024.csv", headers=coordination)).text
    assert [line.split(",")[0] for line in whole.strip().splitlines()[1:]] == [screen["short_code"]]
