"""The Funding page's figures, from events applied through the projector on a real PostgreSQL: the
calls' deadlines month by month, the applications by state, the cadastre's totals by funder and by
year (as ``GET /cadastre/totals`` gives them), the reports due and overdue; the same events
applied twice change nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace

import asyncpg
import httpx
from fastapi import FastAPI
from passerelle_contracts import Actor, Envelope, EventData
from passerelle_contracts.common import FieldChange
from passerelle_contracts.funding_v1 import (
    ApplicationDecided,
    ApplicationSubmitted,
    CallOpened,
    Duty,
    FundingLineChanged,
    FundingLineRecorded,
    GrantAgreementSigned,
    GrantAmended,
    GrantClosed,
    GrantReportReviewed,
    GrantReportSubmitted,
    ReportingReminder,
    Tranche,
)

from services.dashboard.pages import funding
from services.dashboard.viewers import Viewer, signed_in
from tests.integration.dashboard.conftest import apply

AS_OF = date(2025, 3, 15)
COORDINATION = Actor(organisation="coordination", role="coordination")


def wrap(data: EventData, subject: str) -> tuple[Envelope, EventData]:
    return Envelope.wrap(data, source="funding", subject=subject, actor=COORDINATION), data


def call(code: str, funder: str, opens_on: date, closes_at: datetime, **more: object) -> tuple[Envelope, EventData]:
    data = CallOpened(
        call_code=code,
        management="run" if funder == "region" else "tracked",
        call_kind="regional-call" if funder == "region" else "esf",
        funder=funder,
        programme="P",
        title_fr=f"Appel {code}",
        title_nl=f"Oproep {code}",
        opens_on=opens_on,
        closes_at=closes_at,
        budget_eur=Decimal("100000") if funder == "region" else None,
        **more,
    )
    return wrap(data, f"call-{code}")


def submitted(application: str, applicant: str, requested: str) -> tuple[Envelope, EventData]:
    data = ApplicationSubmitted(
        application_id=application,
        call_code="AAP-1",
        applicant=applicant,
        applicant_kind="non-profit",
        requested_eur=Decimal(requested),
        submitted_at=datetime(2025, 2, 1, 10, 0, tzinfo=UTC),
    )
    return wrap(data, f"application-{application}")


def decided(application: str, applicant: str, decision: str, amount: str) -> tuple[Envelope, EventData]:
    data = ApplicationDecided(
        application_id=application,
        call_code="AAP-1",
        applicant=applicant,
        decision=decision,
        amount_eur=Decimal(amount),
        decided_on=date(2025, 3, 1),
    )
    return wrap(data, f"application-{application}")


def agreement(grant: str, beneficiary: str, duties: list[tuple[str, str, date]]) -> tuple[Envelope, EventData]:
    data = GrantAgreementSigned(
        grant_id=grant,
        call_code="AAP-1",
        beneficiary=beneficiary,
        signed_on=date(2025, 1, 15),
        amount_eur=Decimal("1000"),
        ends_on=date(2025, 12, 31),
        tranches=[Tranche(number=1, amount_eur=Decimal("1000"), due_on=date(2025, 2, 1))],
        duties=[Duty(duty_id=d, kind=kind, due_on=due) for d, kind, due in duties],
    )
    return wrap(data, f"grant-{grant}")


def line(
    line_id: str, funder: str, year: int, committed: str, paid: str | None, pct: str | None
) -> tuple[Envelope, EventData]:
    data = FundingLineRecorded(
        line_id=line_id,
        beneficiary=f"epn-{line_id}",
        beneficiary_kind="epn",
        funder=funder,
        programme="P",
        year=year,
        committed_eur=Decimal(committed),
        paid_eur=None if paid is None else Decimal(paid),
        cofinancing_pct=None if pct is None else Decimal(pct),
        complete=paid is not None and pct is not None,
    )
    return wrap(data, f"line-{line_id}")


def story() -> list[tuple[Envelope, EventData]]:
    return [
        # Open on AS_OF; and one that opens later, whose deadline (23:30 UTC on 30 June) is on
        # 1 July in Brussels: July's.
        call("AAP-1", "region", date(2025, 1, 10), datetime(2025, 3, 31, 10, 0, tzinfo=UTC), action_number=12),
        call("ESF-2", "esf", date(2025, 5, 1), datetime(2025, 6, 30, 23, 30, tzinfo=UTC)),
        call("OLD-0", "federal", date(2024, 1, 1), datetime(2024, 2, 1, 12, 0, tzinfo=UTC)),
        submitted("a1", "asbl-a", "20000"),
        submitted("a2", "asbl-b", "15000"),
        submitted("a3", "asbl-c", "5000.50"),
        decided("a1", "asbl-a", "granted", "20000"),
        decided("a2", "asbl-b", "partially-granted", "10000"),
        # Reports: g1's interim is overdue; its final is moved by an extension beyond the horizon.
        agreement("g1", "asbl-a", [("d1", "interim", date(2025, 3, 10)), ("d2", "final", date(2025, 3, 25))]),
        wrap(
            GrantAmended(
                grant_id="g1",
                kind="extension",
                amended_on=date(2025, 3, 12),
                changes=[
                    FieldChange(field="ends_on", old="2025-03-25", new="2025-06-30"),
                    FieldChange(field="final_report_due_on", old="2025-03-25", new="2025-06-30"),
                ],
            ),
            "grant-g1",
        ),
        # g2's interim was submitted then returned: to submit again, due in 5 days; its final is
        # submitted: not to do.
        agreement("g2", "asbl-b", [("d3", "interim", date(2025, 3, 20)), ("d4", "final", date(2025, 3, 29))]),
        wrap(
            GrantReportSubmitted(
                duty_id="d3", grant_id="g2", beneficiary="asbl-b", kind="interim", submitted_on=date(2025, 3, 5)
            ),
            "grant-g2",
        ),
        wrap(
            GrantReportReviewed(
                duty_id="d3", grant_id="g2", kind="interim", outcome="returned", reviewed_on=date(2025, 3, 7)
            ),
            "grant-g2",
        ),
        wrap(
            GrantReportSubmitted(
                duty_id="d4", grant_id="g2", beneficiary="asbl-b", kind="final", submitted_on=date(2025, 3, 8)
            ),
            "grant-g2",
        ),
        # A closed grant's report is nobody's duty any more.
        agreement("g3", "asbl-c", [("d5", "final", date(2025, 3, 1))]),
        wrap(
            GrantClosed(
                grant_id="g3",
                beneficiary="asbl-c",
                closed_on=date(2025, 3, 2),
                amount_eur=Decimal("1000"),
                paid_total_eur=Decimal("1000"),
            ),
            "grant-g3",
        ),
        # A report known from its reminder alone: due on AS_OF.
        wrap(
            ReportingReminder(
                duty_id="d6", grant_id="g4", beneficiary="asbl-d", kind="final", due_on=AS_OF, stage="due"
            ),
            "grant-g4",
        ),
        # The cadastre: three lines; the first completed (and its commitment raised) later.
        line("l1", "region", 2024, "10000", None, None),
        line("l2", "region", 2025, "5000", "5000", "50"),
        line("l3", "esf", 2025, "20000.50", "1000", "40"),
        wrap(
            FundingLineChanged(
                line_id="l1",
                beneficiary="epn-l1",
                year=2024,
                changes=[
                    FieldChange(field="committed_eur", old="10000", new="12000"),
                    FieldChange(field="paid_eur", old=None, new="8000"),
                    FieldChange(field="cofinancing_pct", old=None, new="30"),
                ],
                complete=True,
            ),
            "line-l1",
        ),
    ]


async def test_calls_are_listed_by_the_month_of_their_brussels_deadline(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await funding.figures(pool, AS_OF)

    assert [c["call_code"] for c in f["calls"]] == ["OLD-0", "AAP-1", "ESF-2"]  # nearest deadline first
    assert {c["call_code"]: c["state"] for c in f["calls"]} == {"OLD-0": "closed", "AAP-1": "open", "ESF-2": "upcoming"}
    assert f["open_calls"] == 1
    assert f["calendar"] == [
        {"month": "2024-02", "calls": ["OLD-0"]},
        {"month": "2025-03", "calls": ["AAP-1"]},
        {"month": "2025-07", "calls": ["ESF-2"]},
    ]


async def test_applications_are_counted_by_state_with_their_amounts(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await funding.figures(pool, AS_OF)

    assert f["applications"]["total"] == 3
    assert f["applications"]["by_status"] == {
        "submitted": {"applications": 1, "requested_eur": "5000.50", "amount_eur": "0"},
        "granted": {"applications": 1, "requested_eur": "20000.00", "amount_eur": "20000.00"},
        "partially-granted": {"applications": 1, "requested_eur": "15000.00", "amount_eur": "10000.00"},
        "refused": {"applications": 0, "requested_eur": "0", "amount_eur": "0"},
    }
    assert f["applications"]["by_call"] == {
        "AAP-1": {"submitted": 1, "granted": 1, "partially-granted": 1, "refused": 0}
    }


async def test_the_cadastres_totals_by_funder_and_year_are_those_of_the_funding_api(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await funding.figures(pool, AS_OF)

    # As GET /cadastre/totals?by=funder and ?by=year answer: the largest committed first.
    assert f["cadastre"]["funder"] == {
        "by": "funder",
        "groups": [
            {"key": "esf", "lines": 1, "committed_eur": "20000.50", "paid_eur": "1000.00", "complete_lines": 1},
            {"key": "region", "lines": 2, "committed_eur": "17000.00", "paid_eur": "13000.00", "complete_lines": 2},
        ],
        "total": {"key": None, "lines": 3, "committed_eur": "37000.50", "paid_eur": "14000.00", "complete_lines": 3},
    }
    assert f["cadastre"]["year"]["groups"] == [
        {"key": 2025, "lines": 2, "committed_eur": "25000.50", "paid_eur": "6000.00", "complete_lines": 2},
        {"key": 2024, "lines": 1, "committed_eur": "12000.00", "paid_eur": "8000.00", "complete_lines": 1},
    ]


async def test_reports_due_and_overdue_are_those_the_deadline_checker_would_remind(pool: asyncpg.Pool) -> None:
    await apply(pool, story())

    f = await funding.figures(pool, AS_OF)

    assert [(r["duty_id"], r["stage"], r["status"]) for r in f["reports"]["overdue"]] == [("d1", "overdue", "pending")]
    assert [(r["duty_id"], r["stage"], r["status"]) for r in f["reports"]["due"]] == [
        ("d6", "due", "pending"),
        ("d3", "t-7", "returned"),
    ]
    assert f["reports"]["by_status"] == {"pending": 4, "submitted": 1, "returned": 1, "approved": 0}
    later = await funding.figures(pool, date(2025, 6, 20))
    assert ("d2", "t-14") in [(r["duty_id"], r["stage"]) for r in later["reports"]["due"]]  # moved to 30 June


async def test_applying_the_same_events_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    events = story()
    first = await apply(pool, events)
    before = await funding.figures(pool, AS_OF)

    again = await apply(pool, events)

    assert all(p is not None for p in first)
    assert again == [None] * len(events)
    assert await funding.figures(pool, AS_OF) == before
    assert await funding.figures(pool, AS_OF + timedelta(days=1)) != before  # the stages move with the day


class Page(HTMLParser):
    """What the accessibility checks read of a page: its headings' levels, its tables' captions or
    labels, its header cells' scopes, and the key figures (``data-testid``)."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tables: list[bool] = []  # captioned or labelled
        self.unscoped_th = 0
        self.figures: dict[str, str] = {}
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        elif tag == "table":
            self.tables.append("aria-labelledby" in a)
        elif tag == "caption" and self.tables:
            self.tables[-1] = True
        elif tag == "th" and "scope" not in a:
            self.unscoped_th += 1
        if tag == "span" and a.get("data-testid"):
            self._figure = a["data-testid"]

    def handle_endtag(self, tag: str) -> None:
        self._figure = None

    def handle_data(self, data: str) -> None:
        if self._figure and data.strip():
            self.figures[self._figure] = data.strip()


async def test_the_page_shows_the_figures_in_both_languages_accessibly(pool: asyncpg.Pool) -> None:
    await apply(pool, story())
    app = FastAPI()
    app.include_router(funding.router)
    app.state.runtime = SimpleNamespace(pool=pool)
    app.dependency_overrides[signed_in] = lambda: Viewer("coordination", "coordination", "k1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        as_json = (await client.get("/api/funding")).json()
        for lang in ("fr", "nl"):
            response = await client.get(f"/funding?lang={lang}", headers={"accept": "text/html"})
            assert response.status_code == 200
            page = Page()
            page.feed(response.text)
            assert page.headings[0] == 1
            assert all(b - a <= 1 for a, b in itertools.pairwise(page.headings)), page.headings
            assert all(page.tables), "a table without a caption or a label"
            assert page.unscoped_th == 0
            assert page.figures == {
                "fu-open-calls": str(as_json["open_calls"]),
                "fu-applications-total": "3",
                "fu-reports-overdue-count": str(len(as_json["reports"]["overdue"])),
                "fu-reports-due-count": str(len(as_json["reports"]["due"])),
            }
            assert 'data-key="total"' in response.text
