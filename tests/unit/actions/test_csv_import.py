"""CSV import and export: one format both ways, each row through the same use cases, a report per row."""

from __future__ import annotations

import csv
import io
from typing import cast

from services.actions.handlers.csv_io import ImportCsv, export_csv, import_csv
from services.actions.handlers.plan import load_structure, read_seed
from services.actions.sql import ActionsRepository
from services.runtime.testing import FakeStore
from tests.fakes.actions import FakeActionsRepository

from .conftest import Store, acting


def repository(store: Store) -> ActionsRepository:
    return cast(ActionsRepository, store.repo)  # the fake has the same methods


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def to_csv(records: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


async def test_the_exported_plan_imports_into_an_empty_service_and_again_changes_nothing(store: Store) -> None:
    exported = {kind: await export_csv(repository(store), kind) for kind in ("actions", "indicators")}
    empty: Store = FakeStore(FakeActionsRepository())
    await load_structure(acting(empty), read_seed()[0])
    first = await import_csv(acting(empty), ImportCsv("actions", exported["actions"]))
    assert (first.created, first.errors) == (66, [])
    indicators = await import_csv(acting(empty), ImportCsv("indicators", exported["indicators"]))
    assert (indicators.created, indicators.errors) == (15, [])
    again = await import_csv(acting(empty), ImportCsv("actions", exported["actions"]))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 66)
    assert await export_csv(repository(empty), "actions") == exported["actions"], "one format both ways"
    assert len(empty.events("ActionRegistered")) == 66
    assert len(await empty.repo.history(46)) == 2, "registered, then its indicator defined"


async def test_an_import_reports_each_bad_row_and_applies_the_good_ones(store: Store) -> None:
    records = rows(await export_csv(repository(store), "actions"))
    records[0]["status"] = "planned"  # action 1: an allowed move
    records[0]["title_nl"] = "Publieksevenementen"
    records[1]["status"] = "completed"  # action 2: not_started -> completed is not allowed
    records[2]["lead"] = "nobody"  # action 3
    records[3]["progress"] = "150"  # action 4
    records[4]["chantier"] = "9"  # action 5 sits in chantier 1
    report = await import_csv(acting(store), ImportCsv("actions", to_csv(records[:6])))
    assert (report.updated, report.unchanged) == (1, 1)
    assert [(e["line"], e["column"]) for e in report.errors] == [(3, None), (4, None), (5, "progress"), (6, "chantier")]
    assert "cannot go from not_started to completed" in report.errors[0]["reason"]
    action = await store.repo.get_action(1)
    assert action is not None and (action["status"], action["title_nl"]) == ("planned", "Publieksevenementen")
    assert [e.event_type for e in store.events()] == ["ActionDetailsChanged", "ActionStatusChanged"]


async def test_measurements_import_once_per_external_id_and_report_bad_rows(store: Store) -> None:
    text = (
        "external_id,indicator,value,measured_on,source\n"
        "m-1,a36-epn-register,12,2024-03-31,cadastre\nm-2,a36-epn-register,15,2024-06-30,cadastre\n"
        "m-3,nope,1,2024-06-30,x\nm-4,a36-epn-register,abc,2024-06-30,x\n"
    )
    first = await import_csv(acting(store), ImportCsv("measurements", text))
    assert first.created == 2
    assert [(e["line"], e["column"]) for e in first.errors] == [(4, None), (5, "value")]
    second = await import_csv(acting(store), ImportCsv("measurements", text))
    assert (second.created, second.unchanged) == (0, 2)
    exported = rows(await export_csv(repository(store), "measurements"))
    assert [(r["external_id"], r["value"]) for r in exported] == [("m-1", "12"), ("m-2", "15")]
    missing = await import_csv(acting(store), ImportCsv("measurements", "indicator,value\n"))
    assert "missing columns: external_id, measured_on, source" in missing.errors[0]["reason"]


async def test_a_progress_bar_is_told_after_each_row(store: Store) -> None:
    seen: list[tuple[int, int]] = []
    text = "external_id,indicator,value,measured_on,source\nm-1,a36-epn-register,12,2024-03-31,x\nm-2,nope,1,2024-03-31,x\n"
    await import_csv(
        acting(store), ImportCsv("measurements", text), progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1, 2), (2, 2)]
