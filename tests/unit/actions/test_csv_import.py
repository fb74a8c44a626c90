"""CSV import and export: one format both ways, each row through the same use cases, a report per row."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import cast

import pytest

from services.actions.handlers.actions import ChangeDetails, ChangeStatus, change_details, change_status
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
    assert (indicators.created, indicators.errors) == (16, [])
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
    await manual_indicator(store)  # a36-epn-cadastre-complete is set from events
    text = (
        "external_id,indicator,value,measured_on,source\n"
        "m-1,a36-cadastre,12,2024-03-31,cadastre\nm-2,a36-cadastre,15,2024-06-30,cadastre\n"
        "m-3,nope,1,2024-06-30,x\nm-4,a36-cadastre,abc,2024-06-30,x\n"
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
    text = "external_id,indicator,value,measured_on,source\nm-1,a36-epn-cadastre-complete,12,2024-03-31,x\nm-2,nope,1,2024-03-31,x\n"
    await import_csv(
        acting(store), ImportCsv("measurements", text), progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1, 2), (2, 2)]


# --- hostile files ------------------------------------------------------------------------------

MEASUREMENTS = "external_id,indicator,value,measured_on,source\n"


async def manual_indicator(store: Store, code: str = "a36-cadastre") -> str:
    """An indicator no event feeds (every seeded one is fed by events), for measurements typed by people."""
    text = f"code,action,name_fr,name_nl,unit,baseline,target,period\n{code},36,EPN au cadastre,,EPN,0,,2021-2024\n"
    assert (await import_csv(acting(store), ImportCsv("indicators", text))).created == 1
    return code


@pytest.mark.parametrize(
    ("value", "measured_on", "column", "reason"),
    [
        ("NaN", "2024-06-30", "value", "must be a number"),
        ("Infinity", "2024-06-30", "value", "must be a number"),
        ("-inf", "2024-06-30", "value", "must be a number"),
        ("sNaN", "2024-06-30", "value", "must be a number"),
        ("-1000", "2024-06-30", "value", "must be at least 0"),
        ("1e13", "2024-06-30", "value", "must be at most 1,000,000,000,000"),
        ("12", "9999-12-31", "measured_on", "has not happened yet"),
        ("12", "1999-12-31", "measured_on", "not plausible"),
    ],
)
async def test_a_measurement_cell_that_is_not_a_plausible_figure_is_a_row_error(
    store: Store, value: str, measured_on: str, column: str, reason: str
) -> None:
    code = await manual_indicator(store)
    text = f"{MEASUREMENTS}m-1,{code},{value},{measured_on},x\nm-2,{code},15,2024-06-30,x\n"
    report = await import_csv(acting(store), ImportCsv("measurements", text))
    assert [(e["line"], e["column"]) for e in report.errors] == [(2, column)]
    assert reason in report.errors[0]["reason"]
    assert report.created == 1, "the good row still applies"
    assert [m["value"] for m in await store.repo.measurements(code)] == [Decimal(15)]


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("progress", "NaN", "must be a number"),
        ("progress", "150", "must be at most 100"),
        ("progress", "-1", "must be at least 0"),
        ("weight", "Infinity", "must be a number"),
        ("weight", "0", "must be greater than 0"),
        ("title_fr", "x" * 201, "has at most 200 characters"),
        ("lead", "Not A Code", "must be a code"),
    ],
)
async def test_an_action_cell_out_of_range_is_a_row_error_and_the_rows_before_it_stay_applied(
    store: Store, column: str, cell: str, reason: str
) -> None:
    records = rows(await export_csv(repository(store), "actions"))[:2]
    records[0]["status"] = "planned"
    records[1][column] = cell
    report = await import_csv(acting(store), ImportCsv("actions", to_csv(records)))
    assert [(e["line"], e["column"]) for e in report.errors] == [(3, column)]
    assert reason in report.errors[0]["reason"]
    action = await store.repo.get_action(1)
    assert action is not None and action["status"] == "planned"
    assert [e.event_type for e in store.events()] == ["ActionStatusChanged"]


async def test_an_export_cell_that_starts_like_a_formula_is_kept_from_running_and_imports_back_unchanged(
    store: Store,
) -> None:
    title = '=HYPERLINK("http://evil.example","Cliquez")'
    await change_details(acting(store), ChangeDetails(1, {"title_fr": title, "title_nl": "@SUM(A1:A2)"}))
    exported = await export_csv(repository(store), "actions")
    first = rows(exported)[0]
    assert (first["title_fr"], first["title_nl"]) == ("'" + title, "'@SUM(A1:A2)")
    again = await import_csv(acting(store), ImportCsv("actions", exported))
    assert (again.unchanged, again.errors) == (66, [])
    action = await store.repo.get_action(1)
    assert action is not None and action["title_fr"] == title


@pytest.mark.parametrize("note", ["+32 2 123 45 67", "-5 % sur le budget", "@équipe", "\tretrait", "=1+1"])
async def test_a_note_that_starts_like_a_formula_is_exported_with_an_apostrophe_and_imports_back_unchanged(
    store: Store, note: str
) -> None:
    await change_status(acting(store), ChangeStatus(1, "planned", None, note))
    exported = await export_csv(repository(store), "actions")
    assert rows(exported)[0]["status_note"] == "'" + note
    again = await import_csv(acting(store), ImportCsv("actions", exported))
    assert (again.unchanged, again.errors) == (66, [])
    action = await store.repo.get_action(1)
    assert action is not None and action["status_note"] == note
