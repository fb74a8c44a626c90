"""Hostile input at the equipment service's edge: implausible dates, values beyond what a column
holds, control characters, text of any length, files in another encoding. Each is refused with
a reason (422), never a 500, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.equipment.clock import stop_the_clock
from tests.integration.test_equipment_record import DONOR, REFURBISHER, declared, wipe

pytestmark = pytest.mark.infra

COORDINATION = "coordination-inclusion-numerique"
PUPILS = "asbl-devoirs-exemple"
TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # noqa: DTZ011 - after today wherever this runs


async def devices_count(equipment: Any) -> int:
    return int(await equipment.runtime.pool.fetchval("SELECT count(*) FROM devices"))


@pytest.mark.parametrize("as_of", ["9999-12-31", TOMORROW, "1999-12-31"])
async def test_the_figures_at_an_implausible_date_are_refused_not_a_server_error(equipment: Any, as_of: str) -> None:
    answer = await equipment.client.get("/figures", params={"as_of": as_of})
    assert answer.status_code == 422, answer.text
    assert "as_of" in answer.json()["reason"]


async def test_the_figures_are_as_of_today_in_brussels_when_no_day_is_given(
    equipment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_the_clock(monkeypatch, datetime(2024, 6, 30, 22, 30, tzinfo=UTC))  # 00:30 on 1 July in Brussels
    answer = await equipment.client.get("/figures")
    assert answer.status_code == 200, answer.text
    assert answer.json()["as_of"] == "2024-07-01"


async def test_text_with_control_characters_or_of_any_length_is_refused_and_nothing_is_stored(equipment: Any) -> None:
    coordination = await equipment.key(COORDINATION, "coordination")
    laptop: dict[str, Any] = {"asset_tag": "PAR-001", "kind": "laptop", "make": "Lenovo", "storage": "ssd:256"}
    for device in (
        {**laptop, "make": "Lenovo\u001b[2J"},
        {**laptop, "model": "T480\u0000"},
        {**laptop, "asset_tag": "A" * 5_000},
        {**laptop, "ram_gb": 3_000_000_000},
    ):
        answer = await equipment.client.post(
            "/batches", json={"donor": DONOR, "reference": "R-1", "devices": [device]}, headers=coordination
        )
        assert answer.status_code == 422, answer.text
    assert await devices_count(equipment) == 0


async def test_a_latin_1_file_is_refused_with_its_line_and_nothing_is_stored(equipment: Any) -> None:
    coordination = await equipment.key(COORDINATION, "coordination")
    text = "asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year\nA1,S1,laptop,Société,X,,,ssd:256,\n"
    answer = await equipment.client.post(
        f"/batches/{DONOR}/CSV-1/devices.csv", content=text.encode("latin-1"), headers=coordination
    )
    assert answer.status_code == 422, answer.text
    assert "line 2" in answer.json()["reason"] and "UTF-8" in answer.json()["reason"]
    assert await devices_count(equipment) == 0
    log = "device,medium_id,method,tool,operator,started_at,ended_at,result,warnings\nX,m1,purge,nwipe,Zoë,,,passed,\n"
    refused = await equipment.client.post("/sanitisations.csv", content=log.encode("latin-1"), headers=coordination)
    assert refused.status_code == 422 and "line 2" in refused.json()["reason"]


async def test_a_utf_8_file_with_a_byte_order_mark_is_read(equipment: Any) -> None:
    coordination = await equipment.key(COORDINATION, "coordination")
    text = "asset_tag,serial,kind,make,model,cpu,ram_gb,storage,year\nA1,S1,laptop,Société,X,,,ssd:256,\n"
    answer = await equipment.client.post(
        f"/batches/{DONOR}/CSV-1/devices.csv", content=b"\xef\xbb\xbf" + text.encode(), headers=coordination
    )
    assert answer.json()["created"] == 1, answer.text
    [device] = (await equipment.client.get("/devices", headers=coordination)).json()
    assert device["make"] == "Société"


async def test_a_wiping_stations_row_beyond_what_the_database_holds_is_reported_and_the_others_applied(
    equipment: Any,
) -> None:
    headers, devices = await declared(equipment)
    ids = [d["id"] for d in devices.values()]
    transfer = (
        await equipment.client.post("/transfers", json={"to": REFURBISHER, "devices": ids}, headers=headers["donor"])
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    head = (
        "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
    )
    row = (
        "{device},m1,purge,nwipe,0.35,{passes},full,op-3,2024-02-20T09:00:00+01:00,2024-02-20T10:00:00+01:00,passed,\n"
    )
    text = (
        head
        + row.format(device=devices["PAR-001"]["id"], passes=1)
        + row.format(device=devices["PAR-002"]["id"], passes=3_000_000_000)
    )
    answer = await equipment.client.post("/sanitisations.csv", content=text, headers=headers["refurbisher"])
    assert answer.status_code == 200, answer.text
    assert [(e["line"], e["column"]) for e in answer.json()["errors"]] == [(3, "passes")]
    states = {
        d["asset_tag"]: d["sanitisation"]
        for d in (await equipment.client.get("/devices", headers=headers["coordination"])).json()
    }
    assert (states["PAR-001"], states["PAR-002"]) == ("wiped", "pending")
    again = await equipment.client.post("/sanitisations.csv", content=text, headers=headers["refurbisher"])
    assert (again.json()["records"], again.json()["unchanged"]) == (0, 1), "the same file twice: nothing new"
    assert await equipment.runtime.pool.fetchval("SELECT count(*) FROM sanitisations") == 1


async def test_a_declared_delivery_needs_a_registered_recipient_of_its_kind_a_past_date_and_bounded_counts(
    equipment: Any,
) -> None:
    refurbisher = await equipment.key(REFURBISHER, "refurbisher")
    delivery = {
        "recipient": PUPILS,
        "recipient_kind": "pupils-association",
        "devices": {"laptop": 25},
        "delivered_on": date.today().isoformat(),  # noqa: DTZ011
    }
    for changes in (
        {"recipient": "nobody-registered"},
        {"recipient_kind": "retirement-home"},
        {"delivered_on": "9999-12-31"},
        {"devices": {"laptop": 3_000_000_000}},
        {"devices": {"laptop": 100_001}},
        {"beneficiaries": 3_000_000_000},
        {"commune": "Anderlecht\u0000"},
        {"donor": "cirb-paradigm", "donor_kind": "other"},
        {"donor_kind": "regional-public-body"},
    ):
        answer = await equipment.client.post("/deliveries", json={**delivery, **changes}, headers=refurbisher)
        assert answer.status_code == 422, (changes, answer.text)
    assert await equipment.runtime.pool.fetchval("SELECT count(*) FROM deliveries") == 0
    done = await equipment.client.post("/deliveries", json={**delivery, "donor": "cirb-paradigm"}, headers=refurbisher)
    assert done.status_code == 201, done.text
    assert done.json()["donor_kind"] == "regional-public-body"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/weee/99999.csv", None),
        ("GET", "/weee/1999.csv", None),
        ("PUT", "/caps/99999999999/secondary-school/laptop", {"max_devices": 3}),
        ("PUT", "/caps/2024/toaster-owners/laptop", {"max_devices": 3}),
        ("PUT", "/caps/2024/secondary-school/laptop", {"max_devices": 3_000_000_000}),
        ("GET", "/allocation/preview?period=99999", None),
        ("POST", "/follow-ups/check?as_of=9999-12-31", None),
        ("GET", "/devices?limit=10&kind=toaster", None),
        ("GET", "/devices?custodian=" + "x" * 300, None),
    ],
)
async def test_parameters_out_of_bounds_are_refused(equipment: Any, method: str, path: str, body: Any) -> None:
    coordination = await equipment.key(COORDINATION, "coordination")
    answer = await equipment.client.request(method, path, json=body, headers=coordination)
    assert answer.status_code == 422, answer.text


async def test_a_record_of_a_wipe_that_has_not_happened_yet_is_refused(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    laptop = devices["PAR-001"]["id"]
    future = {**wipe("m1"), "started_at": f"{TOMORROW}T09:00:00Z", "ended_at": f"{TOMORROW}T10:00:00Z"}
    answer = await equipment.client.post(
        f"/devices/{laptop}/sanitisations", json={"records": [future]}, headers=headers["coordination"]
    )
    assert answer.status_code == 422, answer.text
    overflow = {**wipe("m1"), "passes": 3_000_000_000}
    answer = await equipment.client.post(
        f"/devices/{laptop}/sanitisations", json={"records": [overflow]}, headers=headers["coordination"]
    )
    assert answer.status_code == 422


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\n", b"{}", b"[]"])
@pytest.mark.parametrize("path", [f"/batches/{DONOR}/CSV-1/devices.csv", "/sanitisations.csv"])
async def test_a_file_that_is_empty_or_has_no_header_is_refused_whole(
    equipment: Any, path: str, content: bytes
) -> None:
    """Found by fuzzing: no file, or one whose first line names none of the columns, was a 200 with
    a row error; no row of it can be read, so the file is refused (422), as in the actions import."""
    coordination = await equipment.key(COORDINATION, "coordination")

    answer = await equipment.client.post(path, content=content, headers=coordination)

    assert answer.status_code == 422, answer.text
    assert "empty" in answer.json()["reason"] or "missing columns" in answer.json()["reason"]


async def test_a_wipe_recorded_as_json_then_sent_in_the_wiping_stations_log_is_recorded_once(equipment: Any) -> None:
    headers, devices = await declared(equipment)
    laptop = devices["PAR-001"]
    transfer = (
        await equipment.client.post(
            "/transfers", json={"to": REFURBISHER, "devices": [laptop["id"]]}, headers=headers["donor"]
        )
    ).json()
    await equipment.client.post(f"/transfers/{transfer['id']}/confirm", headers=headers["refurbisher"])
    padded = {**wipe("m1"), "tool": " nwipe ", "tool_version": "0.35 ", "operator": " op-17", "warnings": " "}
    answer = await equipment.client.post(
        f"/devices/{laptop['id']}/sanitisations", json={"records": [padded]}, headers=headers["refurbisher"]
    )
    assert answer.status_code == 200, answer.text
    log = (
        "device,medium_id,method,tool,tool_version,passes,verification,operator,started_at,ended_at,result,warnings\n"
        f"{laptop['short_code']},m1,purge,nwipe,0.35,1,full,op-17,2024-02-20T09:00:00Z,2024-02-20T10:30:00Z,passed,\n"
    )
    again = await equipment.client.post("/sanitisations.csv", content=log, headers=headers["refurbisher"])
    assert (again.json()["records"], again.json()["unchanged"], again.json()["errors"]) == (0, 1, [])
    assert await equipment.runtime.pool.fetchval("SELECT count(*) FROM sanitisations") == 1
    assert await equipment.runtime.pool.fetchval("SELECT tool || '|' || operator FROM sanitisations") == "nwipe|op-17"
