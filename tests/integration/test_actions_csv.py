"""CSV export and import, one format both ways, idempotent, with a report per row."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import CreateDatabase
from tests.integration.conftest import ActionsUnderTest, running_actions

pytestmark = pytest.mark.infra


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def to_csv(records: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


async def test_the_plan_exported_imports_into_an_empty_service_and_again_changes_nothing(
    actions: ActionsUnderTest, create_database: CreateDatabase, kafka_bootstrap: str, topic_prefix: str
) -> None:
    reader = await actions.key("caban", "partner")
    exported = {
        kind: (await actions.client.get(f"/export/{kind}.csv", headers=reader)).text
        for kind in ("actions", "indicators")
    }
    assert len(rows(exported["actions"])) == 66
    async with running_actions(await create_database("empty"), kafka_bootstrap, topic_prefix, load_seed=False) as empty:
        headers = await empty.key("coordination-inclusion-numerique", "coordination")
        assert (await empty.client.get("/actions")).json() == []
        first = (await empty.client.post("/import/actions.csv", content=exported["actions"], headers=headers)).json()
        assert (first["created"], first["errors"]) == (66, [])
        indicators = (
            await empty.client.post("/import/indicators.csv", content=exported["indicators"], headers=headers)
        ).json()
        assert indicators["created"] == len(rows(exported["indicators"]))
        again = (await empty.client.post("/import/actions.csv", content=exported["actions"], headers=headers)).json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 66)
        assert (await empty.client.get("/export/actions.csv", headers=headers)).text == exported["actions"], (
            "one format both ways"
        )
        assert (
            await empty.runtime.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE topic NOT LIKE '%partners.%' AND event_type = 'ActionRegistered'"
            )
            == 66
        )


async def test_an_import_reports_each_bad_row_and_applies_the_good_ones(actions: ActionsUnderTest) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    records = rows((await actions.client.get("/export/actions.csv", headers=headers)).text)
    records[0]["status"] = "planned"  # action 1: allowed move
    records[0]["title_nl"] = "Publieksevenementen"
    records[1]["status"] = "completed"  # action 2: not_started -> completed is not allowed
    records[2]["lead"] = "nobody"  # action 3
    records[3]["progress"] = "150"  # action 4
    records[4]["chantier"] = "9"  # action 5 sits in chantier 1
    report = (await actions.client.post("/import/actions.csv", content=to_csv(records[:6]), headers=headers)).json()
    assert (report["updated"], report["unchanged"]) == (1, 1)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [
        (3, None),
        (4, None),
        (5, "progress"),
        (6, "chantier"),
    ]
    assert "cannot go from not_started to completed" in report["errors"][0]["reason"]
    assert "nobody" in report["errors"][1]["reason"]
    one = (await actions.client.get("/actions/1")).json()
    assert (one["status"], one["title_nl"]) == ("planned", "Publieksevenementen")


async def test_measurements_import_once_per_external_id(actions: ActionsUnderTest) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    # An indicator no event feeds (a36-epn-cadastre-complete is set from CadastreCoverageChanged and refuses
    # figures typed by hand).
    definition = {"name_fr": "EPN au cadastre", "unit": "EPN"}
    assert (await actions.client.put("/actions/36/indicators/a36-cadastre", json=definition, headers=headers)).json()[
        "changed"
    ]
    text = "external_id,indicator,value,measured_on,source\nm-1,a36-cadastre,12,2024-03-31,cadastre\nm-2,a36-cadastre,15,2024-06-30,cadastre\nm-3,nope,1,2024-06-30,x\nm-4,a36-cadastre,abc,2024-06-30,x\n"
    first = (await actions.client.post("/import/measurements.csv", content=text, headers=headers)).json()
    assert first["created"] == 2
    assert [e["line"] for e in first["errors"]] == [4, 5]
    second = (await actions.client.post("/import/measurements.csv", content=text, headers=headers)).json()
    assert (second["created"], second["unchanged"]) == (0, 2)
    exported = rows((await actions.client.get("/export/measurements.csv", headers=headers)).text)
    assert [(r["external_id"], r["value"]) for r in exported] == [("m-1", "12"), ("m-2", "15")]
    missing = await actions.client.post("/import/measurements.csv", content="indicator,value\n", headers=headers)
    assert missing.status_code == 422, "no row of a file without its columns can be read: refused whole"
    assert "line 1: missing columns: external_id, measured_on, source" in missing.json()["reason"]


async def test_a_file_that_is_not_utf8_is_refused_with_its_line_and_nothing_is_applied(
    actions: ActionsUnderTest,
) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    records = rows((await actions.client.get("/export/actions.csv", headers=headers)).text)[:2]
    records[0]["status"] = "planned"
    records[1]["title_fr"] = "Société numérique"
    latin1 = to_csv(records).encode("latin-1")
    response = await actions.client.post("/import/actions.csv", content=latin1, headers=headers)
    assert response.status_code == 422
    assert "line 2: the file is not UTF-8" in response.json()["reason"]  # action 1's French text
    assert (await actions.client.get("/actions/1")).json()["status"] == "not_started"


async def test_a_nan_or_infinite_cell_is_a_row_error_not_a_server_error(actions: ActionsUnderTest) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    records = rows((await actions.client.get("/export/actions.csv", headers=headers)).text)[:3]
    records[0]["status"] = "planned"
    records[1]["progress"] = "NaN"
    records[2]["weight"] = "Infinity"
    response = await actions.client.post("/import/actions.csv", content=to_csv(records), headers=headers)
    assert response.status_code == 200, response.text
    assert [(e["line"], e["column"]) for e in response.json()["errors"]] == [(3, "progress"), (4, "weight")]
    assert (await actions.client.get("/actions/1")).json()["status"] == "planned"


async def test_a_file_above_ten_mib_is_refused_with_413_by_the_routes_limit_and_nothing_is_applied(
    actions: ActionsUnderTest,
) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    records = rows((await actions.client.get("/export/actions.csv", headers=headers)).text)[:1]
    records[0]["status"] = "planned"
    text = to_csv(records).encode("utf-8")
    padded = text + b"\n" * (10 * 1024 * 1024 + 1 - len(text))

    async def streamed() -> Any:  # no Content-Length: the limit is counted as the file arrives
        for start in range(0, len(padded), 1024 * 1024):
            yield padded[start : start + 1024 * 1024]

    for body in (padded, streamed()):
        response = await actions.client.post("/import/actions.csv", content=body, headers=headers)
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "too-large"
    assert (await actions.client.get("/actions/1")).json()["status"] == "not_started"


async def test_a_zero_written_with_a_huge_exponent_is_imported_as_zero_not_refused_by_the_database_driver(
    actions: ActionsUnderTest,
) -> None:
    """0E+999999999 is zero, and within every bound; asyncpg cannot encode it as a numeric (its
    exponent), which stopped the whole import half-way instead of storing 0."""
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    indicators = "code,action,name_fr,name_nl,unit,baseline,target,period\na36-zero,36,EPN au cadastre,,EPN,0E-999999999,0e999999999,\n"
    response = await actions.client.post("/import/indicators.csv", content=indicators, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["errors"]) == (1, [])
    measurements = (
        "external_id,indicator,value,measured_on,source\n"
        "m-1,a36-zero,0E+999999999,2024-03-31,cadastre\nm-2,a36-zero,15,2024-06-30,cadastre\n"
    )
    response = await actions.client.post("/import/measurements.csv", content=measurements, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["errors"]) == (2, [])
    [indicator] = [i for i in (await actions.client.get("/indicators?action=36")).json() if i["code"] == "a36-zero"]
    assert (indicator["baseline"], indicator["target"], indicator["current_value"]) == (0, 0, 15)
    recorded = (await actions.client.get("/indicators/a36-zero/measurements", headers=headers)).json()
    assert [m["value"] for m in recorded] == [0, 15]
