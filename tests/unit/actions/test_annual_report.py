"""The annual report: folded from the history as of a cut-off, published once with its files' hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from services.actions.handlers import annual_report
from services.actions.handlers.actions import ChangeStatus, change_status
from services.actions.handlers.annual_report import PublishAnnualReport, build_annual_report, publish_annual_report
from services.actions.report.assembly import assemble, end_of
from services.actions.report.html_render import render_html
from services.actions.report.model import AnnualReport
from services.actions.sql import ActionsRepository
from services.runtime.errors import Conflict, Forbidden, Invalid
from services.runtime.inputs import brussels_today

from .conftest import BRUXELLES_FORMATION, COORDINATION, Store, acting

SEED_PLAN = json.loads((Path(__file__).resolve().parents[3] / "services/actions/seed/plan.json").read_text("utf-8"))[
    "plan"
]

TODAY = brussels_today()  # the cut-off is the end of a day in Brussels
YESTERDAY = TODAY - timedelta(days=1)  # the latest cut-off published: a day that has ended


def repository(store: Store) -> ActionsRepository:
    return cast(ActionsRepository, store.repo)  # the fake has the same methods


@pytest.fixture(autouse=True)
def quick_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering PDFs takes seconds: the report's files are tested in test_report_render.py."""

    def render_all(report: AnnualReport) -> dict[str, bytes]:
        return {f"rapport-{report.year}-fr.html": render_html(report, "fr").encode(), "actions.csv": b"number\n"}

    monkeypatch.setattr(annual_report, "render_all", render_all)


async def test_the_report_shows_the_history_up_to_the_end_of_the_cut_off_day(store: Store) -> None:
    await change_status(acting(store), ChangeStatus(46, "planned", "on_track", ""))
    await change_status(acting(store), ChangeStatus(46, "in_progress", "at_risk", "Retard"))
    await change_status(acting(store), ChangeStatus(5, "abandoned", None, ""))
    report = await build_annual_report(repository(store), TODAY.year, TODAY)
    assert report.by_status == {
        "not_started": 64,
        "planned": 0,
        "in_progress": 1,
        "on_hold": 0,
        "completed": 0,
        "abandoned": 1,
    }
    [line] = [a for a in report.actions() if a.number == 46]
    assert (line.status, line.traffic_light, line.status_note) == ("in_progress", "at_risk", "Retard")
    assert [c.new for c in line.changes if c.field == "status"] == ["planned", "in_progress"]
    before = await build_annual_report(repository(store), TODAY.year, TODAY - timedelta(days=1))
    assert before.by_status["not_started"] == 66, "an earlier cut-off sees none of today's changes"
    again = await build_annual_report(repository(store), TODAY.year, TODAY)
    assert again == report and render_html(again, "nl") == render_html(report, "nl"), "a function of the history"


def recorded_yesterday(store: Store) -> None:
    """The history so far, as if it had been recorded a day earlier (before yesterday's cut-off)."""
    for entry in store.repo.history_:
        entry["occurred_at"] -= timedelta(days=1)


async def test_the_report_is_published_once_with_the_hashes_of_its_files(store: Store) -> None:
    await change_status(acting(store), ChangeStatus(38, "in_progress", None, ""))
    recorded_yesterday(store)
    reply = await publish_annual_report(acting(store), PublishAnnualReport(YESTERDAY.year, YESTERDAY))
    report_id = f"annual-report-{YESTERDAY.year}-as-of-{YESTERDAY.isoformat()}"
    assert reply["report_id"] == report_id
    assert reply["by_status"]["in_progress"] == 1
    [published] = store.events("AnnualReportPublished")
    assert (published.subject, published.actor) == (report_id, COORDINATION)
    assert published.data["files"] == reply["files"]
    assert published.data["actions"] == 66
    content, sha = await store.repo.annual_report_file(report_id, "actions.csv") or (b"", "")
    assert (content, sha) == (b"number\n", hashlib.sha256(b"number\n").hexdigest())

    with pytest.raises(Conflict, match="already published"):
        await publish_annual_report(acting(store), PublishAnnualReport(YESTERDAY.year, YESTERDAY))
    assert len(store.events("AnnualReportPublished")) == 1


async def test_only_the_coordination_publishes_a_cut_off_in_or_just_after_the_year(store: Store) -> None:
    with pytest.raises(Forbidden):
        await publish_annual_report(acting(store, BRUXELLES_FORMATION), PublishAnnualReport(2024, date(2024, 12, 31)))
    with pytest.raises(Conflict, match="does not fall in or just after 2023"):
        await publish_annual_report(acting(store), PublishAnnualReport(2023, date(2025, 1, 1)))
    assert await store.repo.annual_reports() == []


async def test_a_cut_off_after_today_in_brussels_is_refused(store: Store) -> None:
    for as_of in (TODAY + timedelta(days=1), date(TODAY.year + 1, 12, 31)):
        with pytest.raises(Invalid, match="has not happened yet"):
            await publish_annual_report(acting(store), PublishAnnualReport(TODAY.year, as_of))
        with pytest.raises(Invalid, match="has not happened yet"):
            await build_annual_report(repository(store), TODAY.year, as_of)
    assert await store.repo.annual_reports() == []


async def test_todays_cut_off_is_refused_for_publication_as_the_day_has_not_ended(store: Store) -> None:
    """The cut-off is the end of the day: published during it, the report would differ from the
    same report rebuilt after the day's later events."""
    with pytest.raises(Invalid, match=f"as_of: today \\({TODAY.isoformat()}, Brussels\\) has not ended"):
        await publish_annual_report(acting(store), PublishAnnualReport(TODAY.year, TODAY))
    assert await store.repo.annual_reports() == []
    assert store.events("AnnualReportPublished") == []
    preview = await build_annual_report(repository(store), TODAY.year, TODAY)
    assert preview.as_of == TODAY, "a preview of the day so far is still built: nothing is stored"


def test_the_cut_off_is_midnight_in_brussels_not_in_utc() -> None:
    assert end_of(date(2024, 12, 31)) == datetime(2024, 12, 31, 23, 0, tzinfo=UTC), "winter: UTC+1"
    assert end_of(date(2024, 6, 30)) == datetime(2024, 6, 30, 22, 0, tzinfo=UTC), "summer: UTC+2"


def test_the_dutch_report_names_the_plan_in_dutch() -> None:
    report = assemble(2024, date(2024, 12, 31), plan=[], history=[], meetings=[])

    assert report.plan_title_fr == "Plan d'appropriation numérique 2021-2024"
    assert report.plan_title_nl == SEED_PLAN["title_nl"] != report.plan_title_fr
    assert "Plan voor digitale toe-eigening" in render_html(report, "nl")
