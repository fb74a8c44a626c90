"""CSV export and import, one format both ways, idempotent, with a report per row."""

from __future__ import annotations

import csv
import io

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
    exported = {kind: (await actions.client.get(f"/export/{kind}.csv")).text for kind in ("actions", "indicators")}
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
        assert (await empty.client.get("/export/actions.csv")).text == exported["actions"], "one format both ways"
        assert (
            await empty.runtime.pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'ActionRegistered'") == 66
        )


async def test_an_import_reports_each_bad_row_and_applies_the_good_ones(actions: ActionsUnderTest) -> None:
    headers = await actions.key("coordination-inclusion-numerique", "coordination")
    records = rows((await actions.client.get("/export/actions.csv")).text)
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
    text = "external_id,indicator,value,measured_on,source\nm-1,a36-epn-register,12,2024-03-31,cadastre\nm-2,a36-epn-register,15,2024-06-30,cadastre\nm-3,nope,1,2024-06-30,x\nm-4,a36-epn-register,abc,2024-06-30,x\n"
    first = (await actions.client.post("/import/measurements.csv", content=text, headers=headers)).json()
    assert first["created"] == 2
    assert [e["line"] for e in first["errors"]] == [4, 5]
    second = (await actions.client.post("/import/measurements.csv", content=text, headers=headers)).json()
    assert (second["created"], second["unchanged"]) == (0, 2)
    exported = rows((await actions.client.get("/export/measurements.csv")).text)
    assert [(r["external_id"], r["value"]) for r in exported] == [("m-1", "12"), ("m-2", "15")]
    missing = (
        await actions.client.post("/import/measurements.csv", content="indicator,value\n", headers=headers)
    ).json()
    assert "missing columns: external_id, measured_on, source" in missing["errors"][0]["reason"]
